"""The LightningDataModule: in-memory arrays, normalised with train-only statistics.

The datasets here are small enough to live in memory as one tensor each, so
batches are sliced with one fancy index instead of collating single samples:
that keeps the data path from dominating a LeNet-sized training step.

In a ddp job each process takes its share of every epoch, as torch's DistributedSampler
deals it: every ``world``-th example of one order, starting at its rank.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning.pytorch as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler

from dlpipe import paths
from dlpipe.data.tensors import ArrayDataset, load_split

# (training set, processes, this one's rank) -> the batches of one epoch, index lists
Batching = Callable[[ArrayDataset, int, int], Sampler[list[int]]]


class ArrayDataModule(pl.LightningDataModule):
    """Train and val of one family's data set; ``names`` are its classes (or points)."""

    def __init__(
        self,
        train: ArrayDataset,
        val: ArrayDataset,
        names: list[str],
        batch_size: int,
        seed: int,
        batching: Batching | None = None,
    ):
        super().__init__()
        self.datasets = {"train": train, "val": val}
        self.names = names
        self.batch_size = batch_size
        self.seed = seed
        self.batching = batching

    @classmethod
    def for_family(
        cls, family: str, batch_size: int, seed: int, batching: Batching | None = None
    ) -> ArrayDataModule:
        """The family's augmented training set and its validation split; ``batching`` makes the
        training batches where plain shuffled ones will not do (verify's identities × photos)."""
        train_set, names = load_split(family, paths.augmented_train(family))
        val_set, _ = load_split(family, paths.split_file(family, "val"))
        return cls(train_set, val_set, names, batch_size, seed, batching)

    @staticmethod
    def inputs(family: str) -> list:
        """The files ``for_family`` reads (a training run's fingerprint covers them)."""
        return [paths.augmented_train(family), paths.split_file(family, "val"), paths.normalization(family)]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.datasets["train"].x.shape[1:])  # type: ignore[return-value]

    def _loader(self, share: Sampler[int]) -> DataLoader:
        batches = BatchSampler(share, self.batch_size, drop_last=False)
        return DataLoader(share.dataset, sampler=batches, batch_size=None)

    def _processes(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer else (1, 0)

    def train_dataloader(self) -> DataLoader:
        if self.batching is not None:
            batches = self.batching(self.datasets["train"], *self._processes())
            return DataLoader(self.datasets["train"], sampler=batches, batch_size=None)
        return self._loader(Share(self.datasets["train"], *self._processes(), seed=self.seed))

    def val_dataloader(self) -> DataLoader:
        return self._loader(Share(self.datasets["val"], *self._processes()))


class Share(Sampler[int]):
    """One process's indices of ``dataset``: in order, or shuffled anew each epoch when seeded.

    Every process draws the same permutation from a generator seeded alike, so the shares never
    overlap. Shuffled shares are padded from the start of the order to equal length (each
    process must take as many optimiser steps); in-order ones are not, so validation counts
    each example once. With one process the order is RandomSampler's, epoch after epoch.
    """

    def __init__(self, dataset, world: int = 1, rank: int = 0, seed: int | None = None):
        self.dataset, self.world, self.rank = dataset, world, rank
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def _order(self) -> list[int]:
        size = len(self.dataset)
        if self.generator is None:
            return list(range(size))
        order = list(RandomSampler(range(size), generator=self.generator))
        padded = -(-size // self.world) * self.world
        return (order * (1 + padded // max(size, 1)))[:padded]

    def __iter__(self):
        return iter(self._order()[self.rank :: self.world])

    def __len__(self) -> int:
        size = len(self.dataset)
        if self.generator is None:
            return len(range(self.rank, size, self.world))
        return -(-size // self.world)
