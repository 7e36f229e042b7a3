"""mmgan: multimodal generative adversarial networks.

    import mmgan
    mmgan.train(data="mnist", out="runs/mnist")
    pipe = mmgan.Pipeline.from_pretrained("runs/mnist")
"""
__version__ = "0.1.0"

from .api import train  # noqa: E402  (after __version__: the server and the CLI read it)
from .config import Config  # noqa: E402
from .data import load_dataset  # noqa: E402
from .pipeline import Pipeline  # noqa: E402

__all__ = ["Pipeline", "load_dataset", "train", "Config", "__version__"]
