"""The feature network of audio targets: the SC09 digit judge (sound_judge.py) behind the FeatureNetwork
interface, so that `mmgan eval` scores spoken-digit models with the registered metrics (is, fid, kid, pr,
dc, cond_acc, intra_fid, diversity_ratio) seen through it.

It applies to data whose classes are the ten digit words ("zero" .. "nine") in 1-s clips at 16 kHz
(spoken-digits, spoken-digits-words, a user's manifest of spoken digits): trained on the training split
(cached in $MMGAN_CACHE/judges/, as bench/sc09.py does), its accuracy measured on the test split (for
spoken-digits, voices never heard in training). info["real_test_is"] is the Inception score of the real
test clips (10 splits), the ceiling the issue's target is a ratio of; the `is` metric reports
is / real_test_is beside its score. Other audio data has no judge: a clear error says what to pass.
Input: (b, 16000) waveforms in [-1, 1] (generated samples, or real clips read by the audio codec).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..registry import register
from .inception_score import inception_score
from .network import FeatureNetwork
from .sound_judge import CLASS_NAMES, CLIP_SAMPLES, SAMPLE_RATE, JudgeRecipe, SoundJudge, load_waves, sound_judge


class JudgeFeatures(FeatureNetwork):
    """features(x) = the judge's 128-D penultimate layer; class_probs(x) = its ten digit probabilities."""

    def __init__(self, judge: SoundJudge, info: dict):
        super().__init__()
        self.judge = judge
        self.net = judge.net                      # a registered submodule: .eval() reaches it
        self.num_features = int(judge.net.config["feat_dim"])
        self.num_classes = len(CLASS_NAMES)
        self.id = judge.id
        self.info = dict(info)

    def _waves(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().reshape(len(x), -1)                                   # (b, 1, s) or (b, s) -> (b, s)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.judge.run(self._waves(x))[0]

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.head(self.features(x))

    def outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.judge.run(self._waves(x))

    def describe(self) -> str:
        return (f"{self.id} (the SC09 digit judge: log-mel CNN, {self.num_features}-D, accuracy "
                f"{self.info['test_accuracy']:.4f} on {self.info['test_data']})")


def is_spoken_digits(ds) -> bool:
    """Ten classes named zero .. nine, 1-s clips at 16 kHz: what the judge was built to hear."""
    info = ds.info
    return (tuple(info.class_names or ()) == CLASS_NAMES and tuple(info.shape) == (CLIP_SAMPLES,)
            and int(info.extra.get("sample_rate", SAMPLE_RATE)) == SAMPLE_RATE)


def not_spoken_digits(ds) -> str:
    """Why the audio metrics do not apply to ds, and what would."""
    info = ds.info
    return (f"the audio metrics see through the SC09 digit judge, which hears 1-s spoken digits (classes "
            f"zero .. nine at {SAMPLE_RATE} Hz); {info.name!r} has classes {list(info.class_names)[:6] or 'none'} "
            f"and clips of shape {tuple(info.shape)}. Evaluate a spoken-digits run, or pass a feature network "
            f"that reads (b, samples) waveforms with --features PATH (a TorchScript file) and name the metrics "
            f"(--metrics fid,kid,pr)")


@register("features", "audio")
def audio_features(train_ds, test_ds=None, recipe=None, log: Callable = print, progress: bool = False,
                   cache: bool = True) -> FeatureNetwork:
    """The SC09 judge trained on train_ds (cached), tested on the held-out split. `recipe` (the image
    networks' Recipe) does not apply: the judge has its own (JudgeRecipe)."""
    if not is_spoken_digits(train_ds):
        raise ValueError(not_spoken_digits(train_ds))
    test_ds = test_ds() if callable(test_ds) else test_ds
    if test_ds is None:
        raise ValueError(f"the SC09 judge is tested on held-out clips: {train_ds.info.name!r} has no test split")
    judge, acc = sound_judge(train_ds, test_ds, JudgeRecipe(), progress=progress, retrain=not cache, log=log)
    real_is, _ = inception_score(judge.probs(load_waves(test_ds.columns["audio"])).numpy(), 10, 0)
    return JudgeFeatures(judge, {"test_accuracy": acc, "real_test_is": real_is,
                                 "test_data": f"{test_ds.info.name} test split ({len(test_ds)} clips)"})
