"""Quick test submission: nearest class centroid on mean colours, softmax of distances."""

import numpy as np


class BatchClassifier:
    def fit(self, gen_builder):
        gen_train, _, n_train, _ = gen_builder.get_train_valid_generators(batch_size=64)
        sums = np.zeros((gen_builder.n_classes, 3))
        counts = np.zeros(gen_builder.n_classes)
        n_batches = gen_builder.get_nb_minibatches(n_train, 64)
        for _ in range(n_batches):
            X, Y = next(gen_train)
            sums += Y.T @ X.reshape(len(X), -1)
            counts += Y.sum(axis=0)
        self.centroids = sums / np.maximum(counts, 1)[:, None]
        gen_builder.report(epoch=1, n_epochs=1, n_train=n_train)
        return self

    def predict_proba(self, X):
        X = np.asarray(X).reshape(len(X), -1)
        d = ((X[:, None, :] - self.centroids[None]) ** 2).sum(axis=2)
        z = np.exp(-(d - d.min(axis=1, keepdims=True)) * 10)
        return z / z.sum(axis=1, keepdims=True)
