"""Starting kit classifier: a tiny convolutional network trained for two epochs.

This is the organizers' simple baseline. Copy this folder, then improve the network, the
number of epochs, the preprocessing (e.g. random flips in ``transform`` and a plain
``transform_test``)...

``fit`` saves a checkpoint after every epoch (``gen_builder.save_checkpoint``) and starts from
the last one (``gen_builder.load_checkpoint``): a long training interrupted by a restart
resumes at its next epoch. Keep that pattern when you add epochs.
"""

import numpy as np
import torch
from torch import nn

N_EPOCHS = 2
BATCH_SIZE = 64


class BatchClassifier:
    def __init__(self):
        torch.manual_seed(42)
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1),  # 3×32×32 → 8×32×32
            nn.ReLU(),
            nn.MaxPool2d(2),  # → 8×16×16
            nn.Conv2d(8, 16, kernel_size=3, padding=1),  # → 16×16×16
            nn.ReLU(),
            nn.MaxPool2d(2),  # → 16×8×8
            nn.Flatten(),
            nn.Linear(16 * 8 * 8, 18),  # one logit per class
        )

    def fit(self, gen_builder):
        device = gen_builder.device
        self.device = device
        self.net.to(device)
        train_loader, valid_loader = gen_builder.get_torch_loaders(
            batch_size=BATCH_SIZE, valid_ratio=0.1
        )
        optimizer = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        # Resume an interrupted fit after its last finished epoch (when the platform keeps
        # checkpoints; otherwise load_checkpoint() returns None and save_checkpoint does nothing).
        start = 0
        checkpoint = gen_builder.load_checkpoint()
        if checkpoint is not None:
            self.net.load_state_dict(checkpoint["net"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            start = checkpoint["epoch"]
        for epoch in range(start, N_EPOCHS):
            self.net.train()
            total_loss, n_seen = 0.0, 0
            for x, y in train_loader:
                x, y = x.to(device), y.to(device)
                optimizer.zero_grad()
                loss = loss_fn(self.net(x), y)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(y)
                n_seen += len(y)
            gen_builder.report(
                epoch=epoch + 1,
                n_epochs=N_EPOCHS,
                loss=total_loss / max(n_seen, 1),
                valid_acc=self._accuracy(valid_loader),
            )
            gen_builder.save_checkpoint(
                {"net": self.net.state_dict(), "optimizer": optimizer.state_dict()}, epoch=epoch + 1
            )
        return self

    def _accuracy(self, loader):
        self.net.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for x, y in loader:
                pred = self.net(x.to(self.device)).argmax(dim=1).cpu()
                correct += int((pred == y).sum())
                total += len(y)
        return correct / max(total, 1)

    def predict_proba(self, X):
        self.net.eval()
        with torch.no_grad():
            logits = self.net(torch.from_numpy(np.asarray(X, dtype=np.float32)).to(self.device))
            return torch.softmax(logits, dim=1).cpu().numpy()
