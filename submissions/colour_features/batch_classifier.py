"""Logistic regression on hand-crafted colour and gradient features (scikit-learn).

Fast on a CPU, and it makes different errors from the CNNs (it sees colour statistics and
coarse shapes, not learned filters), which is what the hybrid model needs from its members.
The features are computed by image_preprocessor.py; here we gather them from the workflow's
generator, standardise them and fit a multinomial logistic regression. (Gradient-boosted trees
score a little higher on these features but train far slower on 18 classes and 460 features.)
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

BATCH_SIZE = 256
VALID_RATIO = 0.1
C = 0.05  # strong regularisation: the features are many and correlated
MAX_ITER = 300


def gather(generator, n_rows, n_batches):
    """Read one pass of a workflow generator into arrays (features, class ids)."""
    xs, ys = [], []
    for _ in range(n_batches):
        x, y_onehot = next(generator)
        xs.append(x)
        ys.append(np.argmax(y_onehot, axis=1))
    return np.concatenate(xs)[:n_rows], np.concatenate(ys)[:n_rows]


class BatchClassifier:
    def __init__(self):
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=MAX_ITER))

    def fit(self, gen_builder):
        self.n_classes = gen_builder.n_classes
        gen_train, gen_valid, n_train, n_valid = gen_builder.get_train_valid_generators(
            batch_size=BATCH_SIZE, valid_ratio=VALID_RATIO
        )
        x_train, y_train = gather(
            gen_train, n_train, gen_builder.get_nb_minibatches(n_train, BATCH_SIZE)
        )
        with threadpool_limits(limits=max(1, gen_builder.n_jobs)):
            self.model.fit(x_train, y_train)
        metrics = {"train_acc": float(self.model.score(x_train, y_train))}
        if n_valid:
            x_valid, y_valid = gather(
                gen_valid, n_valid, gen_builder.get_nb_minibatches(n_valid, BATCH_SIZE)
            )
            metrics["valid_acc"] = float((self.predict_proba(x_valid).argmax(1) == y_valid).mean())
        gen_builder.report(epoch=1, n_epochs=1, **metrics)
        return self

    def predict_proba(self, X):
        # Classes missing from a small training set still get a (zero) column: n × n_classes.
        proba = np.zeros((len(X), self.n_classes))
        if len(X):
            proba[:, self.model.classes_] = self.model.predict_proba(np.asarray(X))
        return proba
