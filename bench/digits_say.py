"""Image -> sound: clips generated from held-out mnist images (digits-say test split, unheard voices), judged
by the SC09 digit judge: label accuracy against the image's digit, and against a shuffled pairing (control).

    python bench/digits_say.py RUN [N]        # RUN: a specgan run trained on digits-say with condition [image]
"""
import json
import sys
import time

import numpy as np
import torch

from mmgan.data import load_dataset
from mmgan.metrics.sound_features import audio_features
from mmgan.pipeline import Pipeline

torch.set_num_threads(1)
if len(sys.argv) < 2:
    sys.exit(__doc__)
run, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300
test = load_dataset("digits-say", split="test")
feats = audio_features(load_dataset("spoken-digits", split="train", target="audio"), load_dataset("spoken-digits", split="test"))
pipe = Pipeline.from_pretrained(run, device="cpu")
idx = np.random.default_rng(0).permutation(len(test))[:n]
imgs, labels = test.columns["image"][torch.as_tensor(idx)], test.columns["label"][torch.as_tensor(idx)].numpy()
t0 = time.time()
clips = torch.cat([pipe(image=imgs[i:i+100], num_images=len(imgs[i:i+100]), seed=i, output_type="pt").tensor.float()
                   for i in range(0, n, 100)])
pred = feats.judge.probs(clips).argmax(1).numpy()
shuf = labels[np.random.default_rng(1).permutation(n)]
print(json.dumps({"run": run, "clips": n, "label_acc": float((pred == labels).mean()),
                  "shuffled_image_control": float((pred == shuf).mean()),
                  "judge_test_acc": feats.info["test_accuracy"], "generate_seconds": round(time.time() - t0, 1),
                  "per_digit": [round(float((pred[labels == k] == k).mean()), 3) for k in range(10)]}))
