"""Adversarial: writes about 100 MB to stdout and stderr, then trains normally."""

import sys

import numpy as np


def attack():
    line = "FLOOD " + "y" * 994 + "\n"
    for _ in range(50_000):
        sys.stdout.write(line)
        sys.stderr.write(line)
    print("FLOOD-END", flush=True)


class BatchClassifier:
    def fit(self, gen_builder):
        attack()
        gen_train, _, n_train, _ = gen_builder.get_train_valid_generators(batch_size=64)
        self.n_classes = gen_builder.n_classes
        return self

    def predict_proba(self, X):
        p = np.full((len(X), self.n_classes), 1.0 / self.n_classes)
        return p
