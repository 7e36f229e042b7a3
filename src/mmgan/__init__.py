"""mmgan: multimodal generative adversarial networks."""
__version__ = "0.1.0"


def __getattr__(name):  # lazy: `import mmgan` stays fast
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    if name == "load_dataset":
        from .data import load_dataset

        return load_dataset
    if name == "train":
        from .api import train

        return train
    if name == "Config":
        from .config import Config

        return Config
    raise AttributeError(name)


__all__ = ["Pipeline", "load_dataset", "train", "Config", "__version__"]
