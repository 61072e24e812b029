"""Adversarial: allocates (and touches) far more memory than any limit."""

import numpy as np


def attack():
    chunks = []
    for _ in range(100_000):
        chunks.append(bytearray(50 * 1024 * 1024))  # 50 MB, zero-filled: resident


class BatchClassifier:
    def fit(self, gen_builder):
        attack()
        gen_train, _, n_train, _ = gen_builder.get_train_valid_generators(batch_size=64)
        self.n_classes = gen_builder.n_classes
        return self

    def predict_proba(self, X):
        p = np.full((len(X), self.n_classes), 1.0 / self.n_classes)
        return p
