"""mmgan.server: the HTTP service and web page behind `mmgan serve`.

    from mmgan.server import Settings, create_app
    app = create_app(Settings(runs={"digits": "runs/00001-digits"}, store="store/"))
"""
from .app import create_app
from .settings import Batching, Limits, Settings

__all__ = ["create_app", "Settings", "Limits", "Batching"]
