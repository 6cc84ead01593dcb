"""The LightningDataModule: in-memory arrays, normalised with train-only statistics.

The datasets here are small enough to live in memory as one tensor each, so
batches are sliced with one fancy index instead of collating single samples:
that keeps the data path from dominating a LeNet-sized training step.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from dlpipe import paths
from dlpipe.data.tensors import ArrayDataset, load_split


class ArrayDataModule(pl.LightningDataModule):
    """Train and val of one family's data set; ``names`` are its classes (or points)."""

    def __init__(self, train: ArrayDataset, val: ArrayDataset, names: list[str], batch_size: int, seed: int):
        super().__init__()
        self.datasets = {"train": train, "val": val}
        self.names = names
        self.batch_size = batch_size
        self.seed = seed

    @classmethod
    def for_family(cls, family: str, batch_size: int, seed: int) -> ArrayDataModule:
        """The family's augmented training set and its validation split."""
        train_set, names = load_split(family, paths.augmented_train(family))
        val_set, _ = load_split(family, paths.split_file(family, "val"))
        return cls(train_set, val_set, names, batch_size, seed)

    @staticmethod
    def inputs(family: str) -> list:
        """The files ``for_family`` reads (a training run's fingerprint covers them)."""
        return [paths.augmented_train(family), paths.split_file(family, "val"), paths.normalization(family)]

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
