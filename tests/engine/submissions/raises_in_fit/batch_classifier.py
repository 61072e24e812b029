"""Broken: a bug in the participant's fit (the traceback must show this file only)."""


def helper(values):
    return values["missing_key"]


class BatchClassifier:
    def fit(self, gen_builder):
        helper({})
        return self

    def predict_proba(self, X):
        raise AssertionError("never called")
