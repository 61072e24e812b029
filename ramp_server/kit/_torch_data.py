"""torch views of a :class:`~ramp_server.kit.gen_builder.BatchGeneratorBuilder` (imported lazily)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset


class TransformedDataset(Dataset):
    """Item ``i`` is ``(transform(image) as float32 tensor, class index as int64 tensor)``."""

    def __init__(self, builder, positions: np.ndarray, *, train: bool):
        self.builder = builder
        self.positions = np.asarray(positions, dtype=np.int64)
        self.train = train

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int):
        X, y = self.builder._batch(self.positions[i : i + 1], self.train)
        return torch.from_numpy(X[0]), torch.tensor(int(y[0]), dtype=torch.int64)


class BatchLoader:
    """Epochs of ``(x, y)`` tensor batches, transformed on the builder's thread pool ahead of use.

    Iterating again starts a new epoch (reshuffled when ``shuffle``); ``len()`` is the number
    of batches per epoch. On CUDA the batches come in pinned memory, so
    ``x.to(device, non_blocking=True)`` overlaps the copy with compute.
    """

    def __init__(self, dataset: TransformedDataset, *, batch_size: int, shuffle: bool):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        builder = self.dataset.builder
        pin = builder.device.type == "cuda"

        def convert(X, y):
            x_t, y_t = torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64))
            if pin:
                x_t, y_t = x_t.pin_memory(), y_t.pin_memory()
            return x_t, y_t

        return builder.batches(
            self.dataset.positions,
            batch_size=self.batch_size,
            train=self.dataset.train,
            shuffle=self.shuffle,
            convert=convert,
        )
