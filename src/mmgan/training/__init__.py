"""Every fit: the GAN loop, the joint space and fusion, the rejection-sampling critic, evaluation during
training, checkpoints and the run logger."""
from ..runs import latest_checkpoint
from .checkpoint import CheckpointManager
from .loop import Trainer, TrainingDiverged, TrainResult

__all__ = ["Trainer", "TrainResult", "TrainingDiverged", "CheckpointManager", "latest_checkpoint"]
