"""How well speech lands in the joint space after a short, fixed time: the demo's joint space alone.

Trains the joint space (image, text, audio) on the demo's training set (`shapes` with spoken captions,
mmgan.demo.multimodal.spoken) for --minutes, then embeds 300 held-out items (attribute combinations never
seen in training) and reports retrieval at rank 1 among them: a recording's nearest caption and nearest
image count as right when they have the recording's four attributes; typed caption -> image beside it; and
the mean cosine between a recording and its caption. Each variant is a set of mmgan.training.joint.JointOptions
fields; the GAN is not trained (the demo's speech -> image figure needs the whole demo: docs/benchmarks.md).

    python bench/joint_speech.py --minutes 1.08 --threads 2 [--set audio_batch_size=64 --set audio_lr=0.004]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from common import log, machine, setup
from mmgan.conditioning.features import cache_root
from mmgan.demo.multimodal import spoken
from mmgan.metrics.retrieval import recall_at_k
from mmgan.training.joint import JointOptions, train_joint


def retrieval(space, held) -> dict[str, float]:
    """R@1 among the held-out items (a hit: the nearest has the query's attributes), and the speech-caption cosine."""
    a, t, i = (torch.as_tensor(space.embed(m, held.columns[m])) for m in ("audio", "text", "image"))   # unit norm
    groups = torch.unique(held.columns["attributes"], dim=0, return_inverse=True)[1].tolist()
    r1 = lambda q, k: recall_at_k(q, k, groups, groups, ks=(1,))["R@1"]  # noqa: E731
    return {"speech -> caption R@1": r1(a, t), "speech -> image R@1": r1(a, i), "caption -> image R@1": r1(t, i),
            "cos(speech, its caption)": float((a * t).sum(-1).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=1.08, help="joint-space training time (the demo's: 25%% of 4.3)")
    ap.add_argument("--items", type=int, default=2150, help="training items (the demo's at 4.3 minutes)")
    ap.add_argument("--held", type=int, default=300, help="held-out items scored")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a JointOptions field (JSON value), e.g. audio_batch_size=64")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    setup(args.threads)
    fields = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        if k not in JointOptions.__dataclass_fields__:
            raise SystemExit(f"--set {kv}: JointOptions has no field {k!r}; fields: {', '.join(JointOptions.__dataclass_fields__)}")
        fields[k] = json.loads(v)
    cache = cache_root(None)
    train = spoken("train", args.items, 0, cache, log)
    held = spoken("heldout", args.held, 1, cache, log)
    opts = JointOptions(**{"minutes": args.minutes, "bf16": True, **fields})
    t = time.time()
    space, report = train_joint(train, ["image", "text", "audio"], opts, cache_dir=cache, log=lambda m: None)
    out = {"set": fields, "phase A steps": report["phase_a"]["steps"], "phase B steps": report["phase_b"]["steps"],
           "seconds": round(time.time() - t, 1), **{k: round(v, 3) for k, v in retrieval(space, held).items()}}
    print(json.dumps(out))
    log(machine())


if __name__ == "__main__":
    main()
