"""The organizers' reference network, trained on centre-cropped images (2015 SPIPOLL RAMP).

A plain small convnet: three conv + max-pool blocks and one hidden dense layer, Adam, no data
augmentation. All the gain over the starting kit comes from the crop (see image_preprocessor.py).

Runs on ``gen_builder.device`` (CUDA when visible, else CPU), in mixed precision when
``gen_builder.use_amp``, seeded by ``gen_builder.seed``; saves a checkpoint after every epoch
and resumes from the last one (``gen_builder.save_checkpoint`` / ``load_checkpoint``).
"""

import copy
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

N_EPOCHS = 15
QUICK_EPOCHS = 1  # `ramp-test --quick-test` sets RAMP_TEST_MODE: a smoke test, not a score
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
VALID_RATIO = 0.1
PREDICT_BATCH = 512


def build_network(n_classes):
    """Three conv + max-pool blocks (40 → 5 pixels), one hidden dense layer."""

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(3, 32),
        *block(32, 64),
        *block(64, 64),
        nn.AdaptiveMaxPool2d(5),  # a no-op on 40×40 crops; lets other sizes through
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 128),
        nn.ReLU(inplace=True),
        nn.Linear(128, n_classes),
    )


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
        # The workflow's loaders apply the preprocessing in parallel and shuffle every epoch.
        train_loader, valid_loader = gen_builder.get_torch_loaders(
            batch_size=BATCH_SIZE, valid_ratio=VALID_RATIO
        )
        self.net = build_network(gen_builder.n_classes).to(self.device)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE)
        best_accuracy, best_state, start = -1.0, None, 0
        # an interrupted fit resumes after its last finished epoch (None: no checkpoint, or off)
        checkpoint = gen_builder.load_checkpoint()
        if checkpoint is not None:
            self.net.load_state_dict(checkpoint["net"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            best_accuracy, best_state = checkpoint["best_accuracy"], checkpoint["best_state"]
            start = checkpoint["epoch"]
        for epoch in range(start, self.n_epochs):
            self.net.train()
            total_loss, n_seen = 0.0, 0
            for x, y in train_loader:
                x, y = x.to(self.device), y.to(self.device)
                with self._autocast():
                    loss = F.cross_entropy(self.net(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(y)
                n_seen += len(y)
            metrics = {"train_loss": total_loss / max(1, n_seen)}
            correct, n_valid = 0, 0
            for x, y in valid_loader:
                correct += int((self.predict_proba(x.numpy()).argmax(1) == y.numpy()).sum())
                n_valid += len(y)
            if n_valid:
                metrics["valid_acc"] = correct / n_valid
                # keep the weights of the best validation epoch
                if metrics["valid_acc"] >= best_accuracy:
                    best_accuracy = metrics["valid_acc"]
                    best_state = copy.deepcopy(self.net.state_dict())
            gen_builder.report(epoch=epoch + 1, n_epochs=self.n_epochs, **metrics)
            gen_builder.save_checkpoint(
                {
                    "net": self.net.state_dict(),
                    "optimizer": optimizer.state_dict(),
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
            with self._autocast():
                logits = self.net(x[start : start + PREDICT_BATCH].to(self.device))
            probas.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(probas).numpy().astype(np.float64)
