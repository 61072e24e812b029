"""Adversarial: fills every writable place it can find with data."""

import os

import numpy as np

BLOCK = b"x" * (1 << 20)


def fill(path):
    n = 0
    try:
        with open(path, "ab") as fh:
            while True:
                fh.write(BLOCK)
                n += 1
    except OSError as exc:
        print(f"DISK-FILL {path}: {n} MB then {exc}", flush=True)


def attack():
    for i in range(3):
        fill(f"/tmp/fill_{i}")
    for path in (
        "/sandbox/out/result.npz",
        "/sandbox/out/progress.jsonl",
        os.path.expanduser("~/fill"),
    ):
        fill(path)
    raise OSError("disk filler done")


class BatchClassifier:
    def fit(self, gen_builder):
        attack()
        gen_train, _, n_train, _ = gen_builder.get_train_valid_generators(batch_size=64)
        self.n_classes = gen_builder.n_classes
        return self

    def predict_proba(self, X):
        p = np.full((len(X), self.n_classes), 1.0 / self.n_classes)
        return p
