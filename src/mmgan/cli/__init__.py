"""The `mmgan` command line. A front door: the library never imports it.

    mmgan data | train | generate | calibrate | info     (core.py)
    mmgan eval                                           (eval.py)
    mmgan embed                                          (embed.py)
    mmgan index | search | store, generate --retrieve    (store.py)
    mmgan serve | keys                                   (serve.py)
    mmgan transcribe                                     (transcribe.py)
    mmgan upscale | interpolate                          (upscale.py)
    mmgan restore                                        (restore.py)
    mmgan augment                                        (augment.py)
    mmgan narrate                                        (narrate.py)
"""
from . import core  # noqa: F401  (registers data, train, generate, calibrate, info)
from . import embed, eval, serve, store, transcribe  # noqa: F401  (registration; store wraps core's generate)
from . import restore, upscale  # noqa: F401  (registration: restore; upscale, interpolate)
from . import augment, narrate  # noqa: F401  (registration: augment, narrate)
from .commands import COMMANDS
from .main import build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
