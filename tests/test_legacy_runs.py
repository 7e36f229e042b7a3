"""Runs, checkpoints and an export written by mmgan before the layering (tests/fixtures/legacy, made at
commit de88886 by make_legacy.py there) load with today's code and generate the same tensors (bit-identical
on a CPU like the one that recorded them)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmgan.api import run_info, train
from mmgan.conditioning import load_embedder
from mmgan.pipeline import Pipeline
from mmgan.runs import latest_checkpoint

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
CALLS = {   # the calls make_legacy.py recorded (seed 0, bf16 off)
    "mlp-grid25": [dict(num_images=16, drs=False), dict(num_images=8, drs=True)],
    "dcgan-digits-label": [dict(labels=[0, 3, 7, 9], num_images=4)],
    "dfgan-shapes-text": [dict(text=["a small red circle at the top", "a big blue star"], num_images=2)],
    "cyclegan-mnist-rotated": [dict(num_images=4)],
}


@pytest.fixture(scope="module")
def reference():
    return load_file(str(LEGACY / "reference.safetensors"))


@pytest.fixture
def one_thread():
    """The references were made on one thread; the text encoder's sums depend on the thread count."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def same(out: torch.Tensor, ref: torch.Tensor) -> bool:
    """Bit-identical on a CPU like the one that recorded the references. Other SIMD kernels round differently:
    on an AVX-512 CPU the cyclegan run differs by up to 1.2e-6 (on the -1..1 scale) from the AVX2 recording,
    while a wrong weight, layer or seed moves the output by orders of magnitude more than the 1e-5 allowed."""
    return torch.allclose(out, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_old_runs_generate_bit_identical(name, reference, one_thread):
    run = LEGACY / "runs" / name
    for where in (run, latest_checkpoint(run)):
        pipe = Pipeline.from_pretrained(where, device="cpu", bf16=False)
        for i, kw in enumerate(CALLS[name]):
            out = pipe(seed=0, **kw).tensor
            assert same(out, reference[f"{name}/{i}"]), f"{where}: call {i} differs"


def test_old_export_generates_bit_identical(reference, one_thread):
    pipe = Pipeline.from_pretrained(LEGACY / "runs" / "dcgan-digits-label-export", device="cpu", bf16=False)
    assert same(pipe(labels=[0, 3, 7, 9], num_images=4, seed=0).tensor, reference["dcgan-digits-label/0"])


def test_old_run_info_and_joint_space():
    info = run_info(LEGACY / "runs" / "dcgan-digits-label")
    assert info["family"] == "dcgan" and info["step"] == 6
    space = load_embedder(LEGACY / "runs" / "dfgan-shapes-text")
    v = space.embed("text", ["a red circle"])
    assert v.shape == (1, space.dim)


def test_old_run_resumes(tmp_path):
    run = tmp_path / "digits"
    shutil.copytree(LEGACY / "runs" / "dcgan-digits-label", run)
    result = train(out=run, resume=True, steps=8, log=lambda m: None)
    assert result.step == 8
    assert latest_checkpoint(run).name == "step-00000008"
