"""training.setup.resolve: a family with its own step logic writes it into the config (loss.phases), so the
config a run saves says what trained; an explicit choice is kept."""
import pytest

from _tiny import image_dataset
from mmgan.config import Config
from mmgan.model_options import family_options
from mmgan.models import captioner, cyclegan, hifigan, progressive, recognizer, stackgan, stylegan2
from mmgan.training.setup import resolve


@pytest.mark.parametrize("module, generator", [
    (cyclegan, "CycleGenerator"), (progressive, "ProgressiveGenerator"), (stackgan, "StackGenerator"),
    (hifigan, "HiFiGANGenerator"), (stylegan2, "StyleGAN2Generator"), (captioner, "CaptionGenerator"),
    (recognizer, "Recognizer")])
def test_the_options_name_the_generators_phases(module, generator):
    family = next(f for f in ("cyclegan", "progressive", "stackgan", "hifigan", "stylegan2", "captioner",
                              "recognizer") if module.__name__.endswith(f))
    assert family_options(family).phases == getattr(module, generator).phases != "standard"


def test_resolve_writes_the_familys_phases():
    cfg = resolve(Config.from_dict({"model": {"family": "cyclegan"}}), image_dataset())
    assert cfg.loss.phases == "cycle"
    assert resolve(Config.from_dict({"model": {"family": "dcgan"}}), image_dataset()).loss.phases == "standard"
    kept = Config.from_dict({"model": {"family": "dcgan"}, "loss": {"phases": "matching"}})
    assert resolve(kept, image_dataset()).loss.phases == "matching"
    assert family_options("gansformer").phases == "stylegan2" and family_options("recognizer").phases == "ctc"
