"""Slow but correct: reports progress for a few seconds (cancel and crash tests)."""

import time

import numpy as np

N_STEPS = 12


class BatchClassifier:
    def fit(self, gen_builder):
        self.n_classes = gen_builder.n_classes
        for step in range(N_STEPS):
            time.sleep(0.5)
            gen_builder.report(epoch=step + 1, n_epochs=N_STEPS, loss=1.0 / (step + 1))
        return self

    def predict_proba(self, X):
        return np.full((len(X), self.n_classes), 1.0 / self.n_classes)
