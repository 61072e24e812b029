"""Image loading: this kit's workflow vs rampwf's ImageClassifier, side by side in one run.

Both run the same trivial submission (the same ``transform``; a classifier that consumes
``--epochs`` epochs of training batches and predicts uniform probabilities) on the same JPEG
files, through ``train_submission`` + ``test_submission``. rampwf decodes (and the transform
resizes) every JPEG at every epoch, on the training loop; ours decodes once into the cache.

    .venv/bin/python bench/bench_image_loading.py [--data DIR] [--n 4000] [--n-jobs 2]
        [--epochs 1] [--photo-size 320x240]

Prints images/s of each and the ratio. With no ``--data`` a synthetic set of ``--n`` images is
generated in a temporary folder. The rampwf figure is the anchor run in the same process; each
figure is the best of two runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

TRANSFORM = """\
import numpy as np
from PIL import Image


def transform(x):
    if x.shape[:2] != (64, 64):  # photos of any size: rampwf hands them over as decoded
        x = np.asarray(Image.fromarray(x).resize((64, 64), Image.Resampling.BILINEAR))
    return x.astype(np.float32) / 255.0
"""

CLASSIFIER = """\
import numpy as np

EPOCHS = {epochs}


class BatchClassifier:
    def fit(self, gen_builder):
        gen_train, _, nb_train, _ = gen_builder.get_train_valid_generators(
            batch_size=64, valid_ratio=0.0
        )
        for _ in range(EPOCHS * gen_builder_minibatches(nb_train, 64)):
            X, Y = next(gen_train)
        self.n_classes = Y.shape[1]

    def predict_proba(self, X):
        return np.full((len(X), self.n_classes), 1.0 / self.n_classes)


def gen_builder_minibatches(n, batch_size):
    return -(-n // batch_size)
"""


def _skimage_shim() -> str:
    """rampwf decodes with ``skimage.io.imread``; when scikit-image is absent, use PIL."""
    try:
        import skimage.io  # noqa: F401

        return "scikit-image"
    except ImportError:
        from PIL import Image

        io = types.ModuleType("skimage.io")
        io.imread = lambda f: np.asarray(Image.open(f).convert("RGB"))
        sk = types.ModuleType("skimage")
        sk.io = io
        sys.modules.update({"skimage": sk, "skimage.io": io})
        return "PIL (scikit-image not installed)"


def _make_data(tmp: Path, n: int) -> Path:
    data = tmp / "data"
    from ramp_server.kit.synth import generate

    generate(data, seed=0, n=n, progress=True)
    return data


def _enlarge(data: Path, size: tuple[int, int]) -> None:
    """Re-encode every image at ``size`` (W, H), like the field photos of the real data set."""
    from PIL import Image

    for path in (data / "imgs").glob("*.jpg"):
        with Image.open(path) as img:
            big = img.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        big.save(path, quality=90)


def _rampwf_run(data: Path, sub: Path, n_jobs: int) -> tuple[float, int]:
    from rampwf.workflows.image_classifier import ImageClassifier

    from ramp_server.kit.dataset import read_labels

    wf = ImageClassifier(test_batch_size=64, chunk_size=256, n_jobs=n_jobs, n_classes=18)
    folder = str(data / "imgs")
    train, test = read_labels(data, "train"), read_labels(data, "test")
    X_train = np.array([f"{i}.jpg" for i in train["id"]])
    X_test = np.array([f"{i}.jpg" for i in test["id"]])
    t0 = time.perf_counter()
    model = wf.train_submission(str(sub), (folder, X_train), train["class"].to_numpy())
    proba = wf.test_submission(model, (folder, X_test))
    assert proba.shape == (len(X_test), 18)
    return time.perf_counter() - t0, len(X_train) + len(X_test)


def _kit_run(data: Path, sub: Path, n_jobs: int) -> tuple[float, int]:
    from ramp_server.kit.dataset import load_split
    from ramp_server.kit.workflow import ImageClassifierWorkflow

    wf = ImageClassifierWorkflow(n_jobs=n_jobs, test_batch_size=64)
    t0 = time.perf_counter()
    X_train, y_train = load_split(data, "train", n_jobs=n_jobs, progress=False)
    X_test, _ = load_split(data, "test", n_jobs=n_jobs, progress=False)
    model = wf.train_submission(str(sub), X_train, y_train)
    proba = wf.test_submission(model, X_test)
    assert proba.shape == (len(X_test), 18)
    return time.perf_counter() - t0, len(X_test)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a kit data folder (default: generate one)")
    parser.add_argument("--n", type=int, default=4000, help="images to generate (no --data)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--photo-size",
        default=None,
        help="re-encode the images at WxH (e.g. 320x240) before the runs, like real photos",
    )
    parser.add_argument("--epochs", type=int, default=1, help="training epochs consumed")
    args = parser.parse_args(argv)
    decoder = _skimage_shim()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.data is None:
            data = _make_data(tmp, args.n)
        else:  # work on a copy: the cache must start cold without touching the user's data
            data = tmp / "data"
            shutil.copytree(args.data, data, ignore=shutil.ignore_patterns("cache"))
        if args.photo_size:
            w, h = (int(v) for v in args.photo_size.lower().split("x"))
            _enlarge(data, (w, h))
        sub = tmp / "trivial"
        sub.mkdir()
        (sub / "image_preprocessor.py").write_text(TRANSFORM)
        (sub / "batch_classifier.py").write_text(CLASSIFIER.format(epochs=args.epochs))

        t_rw, n_set = _rampwf_run(data, sub, args.n_jobs)
        t_cold, n_test = _kit_run(data, sub, args.n_jobs)  # decodes the JPEGs into the cache
        t_warm, _ = _kit_run(data, sub, args.n_jobs)  # every later epoch / fold / run
        t_rw2, _ = _rampwf_run(data, sub, args.n_jobs)  # anchor again (OS file cache is warm)
        t_warm2, _ = _kit_run(data, sub, args.n_jobs)  # best of two, as for the anchor
        t_warm = min(t_warm, t_warm2)
    # images handed to the classifier: every epoch's training images, then the test images
    n = args.epochs * (n_set - n_test) + n_test
    rw_rate = n / min(t_rw, t_rw2)
    size = args.photo_size or "64x64"
    print(
        f"{n_set} JPEGs of {size}, {n} images served ({args.epochs} training epoch(s) + one test pass), "
        f"n_jobs={args.n_jobs}"
    )
    print(f"rampwf ImageClassifier (decoder: {decoder}): {rw_rate:10.0f} images/s")
    print(
        f"kit workflow, cold cache (decodes once):     {n / t_cold:10.0f} images/s "
        f"({rw_rate and (n / t_cold) / rw_rate:.1f}x)"
    )
    print(
        f"kit workflow, cached (every later epoch):    {n / t_warm:10.0f} images/s "
        f"({(n / t_warm) / rw_rate:.1f}x)"
    )


if __name__ == "__main__":
    main()
