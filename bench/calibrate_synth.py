"""Difficulty calibration of the synthetic SPIPOLL data: a quick model ladder.

Generates a data set with ``ramp_server.kit.synth.generate`` (cached under bench/results/), then
trains quick proxies of the 2015 event's ladder and prints their test accuracy as they finish:

- majority class (the event's ≈0.29 baseline);
- the starting kit's tiny CNN (32×32, conv3→8, pool, conv8→16, pool, linear; SGD lr 0.01
  momentum 0.9, batch 64) for 2 epochs of the subset, and for as many SGD steps as the real
  starting kit gets on the full set (one ramp-test fold: 2/3 of 16,278 rows less 10 %
  validation; and 2 full epochs);
- colour-histogram + gradient-orientation features with logistic regression (``--trees`` adds
  boosted trees: slow on a shared CPU);
- a well-built small CNN (conv+BN+pool blocks, dense, dropout, flips and right-angle
  rotations) with its test accuracy every 2 epochs (``--train-frac 0.5`` for the data-size
  slope).

The CPU is shared: use a subset (``--n 6000``), one torch thread and few epochs; the figures are
proxies of what the full set and a GPU give, and the docstring of ``ramp_server.kit.synth.photo``
records the calibrated figures.

    .venv/bin/python bench/calibrate_synth.py --n 6000 --skip-moderate
    .venv/bin/python bench/calibrate_synth.py --n 6000 --skip-tiny --skip-features --epochs 10
    .venv/bin/python bench/calibrate_synth.py --data data --skip-tiny --epochs 12   # full set
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from ramp_server.kit.synth import generate
from ramp_server.kit.taxa import N_CLASSES

RESULTS = Path(__file__).parent / "results"
FULL_TRAIN = 16278  # training rows of the full 20,348-image synthetic set


def load(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def split(name):
        df = pd.read_csv(data_dir / f"{name}.csv")
        x = np.stack(
            [
                np.asarray(Image.open(data_dir / "imgs" / f"{i}.jpg").convert("RGB"))
                for i in df["id"]
            ]
        )
        return x, df["class"].to_numpy()

    xtr, ytr = split("train")
    xte, yte = split("test")
    return xtr, ytr, xte, yte


def to_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0)


class Tiny(nn.Module):
    """The starting kit's model (on 32×32 inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 8 * 8, N_CLASSES),
        )  # fmt: skip

    def forward(self, x):
        return self.net(nn.functional.avg_pool2d(x, 2))


class Moderate(nn.Module):
    """A well-built small CNN: conv+BN+pool blocks, a dense layer with dropout."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        layers, c = [], 3
        for k in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(c, k, 3, padding=1), nn.BatchNorm2d(k), nn.ReLU(), nn.MaxPool2d(2)]
            c = k
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * 16, 256),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(256, N_CLASSES),
        )

    def forward(self, x):
        return self.head(self.features(x))


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(3)
    k = int(torch.randint(0, 4, (1,), generator=gen).item())
    return torch.rot90(x, k, (2, 3)) if k else x


def train(model, x, y, *, steps: int, batch: int, opt, aug: bool, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    yt = torch.as_tensor(np.array(y)).long()
    model.train()
    t0, done = time.perf_counter(), 0
    while done < steps:
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            if done >= steps:
                break
            idx = perm[i : i + batch]
            xb = x[idx]
            if aug:
                xb = augment(xb, gen)
            loss = nn.functional.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
    return time.perf_counter() - t0


@torch.no_grad()
def accuracy(model, x, y) -> float:
    model.eval()
    pred = torch.cat([model(x[i : i + 512]).argmax(1) for i in range(0, len(x), 512)])
    return float((pred.numpy() == y).mean())


def features(x: np.ndarray) -> np.ndarray:
    """Colour histograms (whole image and centre) + gradient-orientation histograms."""
    xf = x.astype(np.float32) / 255.0
    q = np.minimum((xf * 4).astype(np.int32), 3)
    codes = q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]
    n = len(x)

    def hist(c):
        out = np.zeros((n, 64), np.float32)
        for i in range(n):
            out[i] = np.bincount(c[i].ravel(), minlength=64)
        return out / c[0].size

    g = xf.mean(axis=3)
    gy, gx = np.gradient(g, axis=(1, 2))
    mag, ori = np.hypot(gx, gy), (np.arctan2(gy, gx) % np.pi) / np.pi * 8
    hog = []
    for cy in range(4):
        for cx in range(4):
            sl = (slice(None), slice(cy * 16, cy * 16 + 16), slice(cx * 16, cx * 16 + 16))
            o, m = np.minimum(ori[sl].astype(np.int32), 7), mag[sl]
            hog.append(np.stack([(m * (o == b)).sum(axis=(1, 2)) for b in range(8)], 1))
    hog = np.concatenate(hog, 1)
    hog /= hog.sum(1, keepdims=True) + 1e-6
    hsv_like = np.stack(
        [xf.mean((1, 2)), xf[:, 16:48, 16:48].mean((1, 2)), xf[:, 16:48, 16:48].std((1, 2))], 1
    )
    return np.concatenate(
        [hist(codes), hist(codes[:, 16:48, 16:48]), hog, hsv_like.reshape(n, -1)], 1
    )


def run_tiny(rows, Xtr, ytr, Xte, yte, *, seed: int) -> None:
    """The starting kit's recipe: 2 epochs, and as many steps as 2 epochs of the full set."""
    steps_2ep = math.ceil(len(Xtr) / 64) * 2
    # ramp-test trains each of the 3 CV folds on 2/3 of the training set, less 10 % validation
    steps_fold = math.ceil(FULL_TRAIN * 2 / 3 * 0.9 / 64) * 2
    steps_full = math.ceil(FULL_TRAIN / 64) * 2
    for label, steps in (
        ("tiny CNN, 2 epochs of subset", steps_2ep),
        ("tiny CNN, steps of a ramp-test fold on full", steps_fold),
        ("tiny CNN, steps of 2 epochs on full train", steps_full),
    ):
        torch.manual_seed(seed)
        m = Tiny()
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        dt = train(m, Xtr, ytr, steps=steps, batch=64, opt=opt, aug=False, seed=seed)
        rows.append((f"{label} ({steps} steps)", accuracy(m, Xte, yte), dt))


def run_features(rows, xtr, ytr, xte, yte, *, trees: bool) -> None:
    """Hand-crafted colour and gradient features with two scikit-learn classifiers."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t = time.perf_counter()
    ftr, fte = features(xtr), features(xte)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.1)).fit(ftr, ytr)
    acc = float((clf.predict(fte) == yte).mean())
    rows.append(("colour+gradient features, logistic", acc, time.perf_counter() - t))
    if not trees:
        return
    t = time.perf_counter()
    hgb = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(ftr, ytr)
    acc = float((hgb.predict(fte) == yte).mean())
    rows.append(("colour+gradient features, boosted trees", acc, time.perf_counter() - t))


def run_moderate(rows, Xtr, ytr, Xte, yte, *, seed: int, epochs: int, width: int) -> None:
    """A well-built small CNN on the subset, with test accuracy along the epochs.

    The curve shows how far from its plateau the short run is: the full set (3.4× the rows of a
    6000-image subset's training split) and 10-20 epochs on a GPU get further.
    """
    torch.manual_seed(seed)
    m = Moderate(width)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs // 2), gamma=0.3)
    per_epoch = math.ceil(len(Xtr) / 64)
    total = 0.0
    for epoch in range(1, epochs + 1):
        total += train(m, Xtr, ytr, steps=per_epoch, batch=64, opt=opt, aug=True, seed=seed + epoch)
        sched.step()
        if epoch % 2 == 0 or epoch == epochs:
            label = f"moderate CNN, {len(Xtr)} train, epoch {epoch}"
            rows.append((label, accuracy(m, Xte, yte), total))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=6, help="moderate CNN epochs")
    ap.add_argument("--skip-moderate", action="store_true")
    ap.add_argument("--skip-tiny", action="store_true")
    ap.add_argument("--skip-features", action="store_true")
    ap.add_argument(
        "--trees", action="store_true", help="also boosted trees on the features (slow)"
    )
    ap.add_argument("--width", type=int, default=16, help="moderate CNN base width")
    ap.add_argument(
        "--train-frac", type=float, default=1.0, help="moderate CNN on a share of train"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the CPU is shared)")
    ap.add_argument("--regen", action="store_true")
    ap.add_argument(
        "--data", type=Path, default=None, help="an existing kit data folder (skips generation)"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = args.data or RESULTS / f"calib_s{args.seed}_n{args.n}"
    t0 = time.perf_counter()
    if args.data is None and (args.regen or not (data / "train.csv").exists()):
        s = generate(data, seed=args.seed, n=args.n, progress=False)
        print(
            f"generated {s.n} images in {s.seconds:.1f}s ({s.seconds / s.n * 1000:.1f} ms/img wall)"
        )
    xtr, ytr, xte, yte = load(data)
    print(f"train {len(xtr)}  test {len(xte)}  (load {time.perf_counter() - t0:.1f}s)")
    rows = Rows()
    maj = np.bincount(ytr, minlength=N_CLASSES).argmax()
    rows.append(("majority", float((yte == maj).mean()), 0.0))

    Xtr, Xte = to_tensor(xtr), to_tensor(xte)
    if not args.skip_tiny:
        run_tiny(rows, Xtr, ytr, Xte, yte, seed=args.seed)
    if not args.skip_features:
        run_features(rows, xtr, ytr, xte, yte, trees=args.trees)
    if not args.skip_moderate:
        k = int(len(Xtr) * args.train_frac)
        run_moderate(
            rows, Xtr[:k], ytr[:k], Xte, yte, seed=args.seed, epochs=args.epochs, width=args.width
        )

    print(f"\n{'model':48s} {'test acc':>8s} {'train s':>8s}")
    for name, acc, dt in rows:
        print(f"{name:48s} {acc:8.3f} {dt:8.1f}")


class Rows(list):
    """Result rows, echoed as they come (the CPU is shared: a run can take minutes)."""

    def append(self, row) -> None:
        super().append(row)
        print(f"  {row[0]:48s} {row[1]:.3f}  ({row[2]:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
