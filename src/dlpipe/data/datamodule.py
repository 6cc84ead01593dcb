"""The LightningDataModule: in-memory arrays, normalised with train-only statistics.

The datasets here are small enough to live in memory as one tensor each, so
batches are sliced with one fancy index instead of collating single samples:
that keeps the data path from dominating a LeNet-sized training step.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from dlpipe import io
from dlpipe.data.tensors import ArrayDataset, load_split


class ArrayDataModule(pl.LightningDataModule):
    def __init__(
        self, train: ArrayDataset, val: ArrayDataset, class_names: list[str], batch_size: int, seed: int
    ):
        super().__init__()
        self.datasets = {"train": train, "val": val}
        self.class_names = class_names
        self.batch_size = batch_size
        self.seed = seed

    @classmethod
    def from_files(
        cls, train: Path, val: Path, normalization: Path, batch_size: int, seed: int
    ) -> ArrayDataModule:
        stats = io.read_json(normalization)
        train_set, class_names = load_split(train, stats)
        val_set, _ = load_split(val, stats)
        return cls(train_set, val_set, class_names, batch_size, seed)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.datasets["train"].x.shape[1:])  # type: ignore[return-value]

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        dataset = self.datasets[name]
        if shuffle:
            generator = torch.Generator().manual_seed(self.seed)
            order = RandomSampler(dataset, generator=generator)
        else:
            order = SequentialSampler(dataset)
        batches = BatchSampler(order, self.batch_size, drop_last=False)
        return DataLoader(dataset, sampler=batches, batch_size=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)
