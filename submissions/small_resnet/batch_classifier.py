"""A small residual network with a learned input window and strong data augmentation.

Two suggestions of the 2015 SPIPOLL RAMP account in one model:
- a learned window as the first layer after the input (one multiplicative weight per pixel,
  initialised flat), instead of the fixed Gaussian window of ``heuritech_cnn``;
- a modern small ResNet (batch norm, residual blocks, global average pooling), trained with
  AdamW and a one-cycle learning-rate schedule, label smoothing, and strong augmentation on each
  mini-batch: any rotation, zoom, shift, flips, brightness/contrast jitter, and a cut-out square.
Predictions average the image and its mirror (test-time augmentation).

Runs on ``gen_builder.device`` (CUDA when visible, else CPU), in mixed precision when
``gen_builder.use_amp``, seeded by ``gen_builder.seed``; saves a checkpoint after every epoch
and resumes from the last one (``gen_builder.save_checkpoint`` / ``load_checkpoint``).
"""

import copy
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

N_EPOCHS = 30
QUICK_EPOCHS = 1  # `ramp-test --quick-test` sets RAMP_TEST_MODE: a smoke test, not a score
BATCH_SIZE = 128
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 5e-4
LABEL_SMOOTHING = 0.1
WIDTHS = (32, 64, 128)
VALID_RATIO = 0.1
PREDICT_BATCH = 512


class LearnedWindow(nn.Module):
    """Multiplies every pixel by a learned weight (shared by the channels), initialised at 1."""

    def __init__(self, size=64):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, 1, size, size))

    def forward(self, x):
        weight = self.weight
        if weight.shape[-2:] != x.shape[-2:]:
            weight = F.interpolate(weight, size=x.shape[-2:], mode="bilinear")
        return x * weight


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with batch norm, plus a shortcut (1×1 conv when the shape changes)."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def build_network(n_classes, widths=WIDTHS):
    """Window → stem (64 → 32 px) → one residual block per width (32 → 16 → 8 px) → classifier."""
    layers = [
        LearnedWindow(),
        nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(inplace=True),
    ]
    c_in = widths[0]
    for i, width in enumerate(widths):
        layers.append(ResidualBlock(c_in, width, stride=1 if i == 0 else 2))
        c_in = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(c_in, n_classes)]
    return nn.Sequential(*layers)


def augment(x):
    """Random rotation (any angle), zoom, shift and mirror in one warp; colour jitter; cut-out."""
    n, _, height, width = x.shape
    dev = x.device
    angle = torch.rand(n, device=dev) * 2 * math.pi
    scale = 0.85 + 0.3 * torch.rand(n, device=dev)
    # a mirror on half of the images: with the rotations, this covers both flips
    flip = torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, device=dev) - 0.5) * 0.2  # up to ±5% of the side
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, shift[:, 0]], 1),
            torch.stack([sin * flip, cos, shift[:, 1]], 1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="reflection", align_corners=False)
    # brightness and contrast jitter (the photos' lighting varies)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 0.8 + 0.4 * torch.rand(n, 1, 1, 1, device=dev)
    brightness = (torch.rand(n, 1, 1, 1, device=dev) - 0.5) * 0.8
    x = (x - mean) * contrast + mean + brightness
    # cut-out: one random 16×16 square set to 0 on half of the images
    side = height // 4
    top = torch.randint(0, height - side + 1, (n, 1, 1, 1), device=dev)
    left = torch.randint(0, width - side + 1, (n, 1, 1, 1), device=dev)
    rows = torch.arange(height, device=dev).view(1, 1, height, 1)
    cols = torch.arange(width, device=dev).view(1, 1, 1, width)
    square = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    square &= torch.rand(n, 1, 1, 1, device=dev) < 0.5
    return x.masked_fill(square, 0.0)


def collect(loader):
    """Stack everything a loader yields once into two tensors (x float32, y int64)."""
    batches = list(loader)
    if not batches:  # e.g. no validation rows on a tiny training set
        return torch.zeros(0), torch.zeros(0, dtype=torch.int64)
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


class BatchClassifier:
    def __init__(self):
        self.n_epochs = QUICK_EPOCHS if os.environ.get("RAMP_TEST_MODE") else N_EPOCHS
        self.net = None

    def fit(self, gen_builder):
        torch.manual_seed(gen_builder.seed)
        self.device = gen_builder.device
        if self.device.type == "cpu":
            torch.set_num_threads(max(1, gen_builder.n_jobs))
        self.use_amp = bool(gen_builder.use_amp)
        train_loader, valid_loader = gen_builder.get_torch_loaders(
            batch_size=PREDICT_BATCH, valid_ratio=VALID_RATIO
        )
        # The preprocessed set is kept whole on the device; augmentation runs there per batch.
        x_train, y_train = (t.to(self.device) for t in collect(train_loader))
        x_valid, y_valid = collect(valid_loader)

        self.net = build_network(gen_builder.n_classes).to(self.device)
        optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY
        )
        steps_per_epoch = math.ceil(len(x_train) / BATCH_SIZE)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=LEARNING_RATE, total_steps=self.n_epochs * steps_per_epoch
        )
        best_accuracy, best_state, start = -1.0, None, 0
        # an interrupted fit resumes after its last finished epoch (None: no checkpoint, or off)
        checkpoint = gen_builder.load_checkpoint()
        if checkpoint is not None:
            self.net.load_state_dict(checkpoint["net"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            scheduler.load_state_dict(checkpoint["scheduler"])
            best_accuracy, best_state = checkpoint["best_accuracy"], checkpoint["best_state"]
            start = checkpoint["epoch"]
        for epoch in range(start, self.n_epochs):
            self.net.train()
            order = torch.randperm(len(x_train), device=self.device)
            total_loss = 0.0
            for start in range(0, len(order), BATCH_SIZE):
                idx = order[start : start + BATCH_SIZE]
                if len(idx) < 2:  # batch norm needs two images
                    continue
                with self._autocast():
                    logits = self.net(augment(x_train[idx]))
                    loss = F.cross_entropy(logits, y_train[idx], label_smoothing=LABEL_SMOOTHING)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total_loss += loss.item() * len(idx)
            metrics = {"train_loss": total_loss / len(order)}
            if len(y_valid):
                proba = self.predict_proba(x_valid.numpy())
                metrics["valid_acc"] = float((proba.argmax(1) == y_valid.numpy()).mean())
                if metrics["valid_acc"] >= best_accuracy:
                    best_accuracy = metrics["valid_acc"]
                    best_state = copy.deepcopy(self.net.state_dict())
            gen_builder.report(epoch=epoch + 1, n_epochs=self.n_epochs, **metrics)
            gen_builder.save_checkpoint(
                {
                    "net": self.net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "best_accuracy": best_accuracy,
                    "best_state": best_state,
                },
                epoch=epoch + 1,
            )
        if best_state is not None:
            self.net.load_state_dict(best_state)
        return self

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_amp)

    @torch.no_grad()
    def predict_proba(self, X):
        self.net.eval()
        x = torch.as_tensor(np.asarray(X, dtype=np.float32))
        probas = [torch.zeros(0, self.net[-1].out_features)]
        for start in range(0, len(x), PREDICT_BATCH):
            batch = x[start : start + PREDICT_BATCH].to(self.device)
            with self._autocast():
                logits = torch.stack([self.net(batch), self.net(batch.flip(3))]).float()
            probas.append(torch.softmax(logits, dim=2).mean(0).cpu())
        return torch.cat(probas).numpy().astype(np.float64)
