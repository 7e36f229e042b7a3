from .checkpoint import CheckpointManager, latest_checkpoint
from .loop import Trainer, TrainingDiverged, TrainResult

__all__ = ["Trainer", "TrainResult", "TrainingDiverged", "CheckpointManager", "latest_checkpoint"]
