"""The library API behind the command line: train(), calibrate(), generate_to_dir(), run_info(), augment(), and the
joint space's embed(), arithmetic(), nearest()."""
from .augment import augment
from .embed import arithmetic, embed, nearest
from .generate import generate_to_dir, run_info
from .train import calibrate, load_config, train

__all__ = ["train", "calibrate", "load_config", "generate_to_dir", "run_info", "embed", "arithmetic", "nearest", "augment"]
