"""Batches of P identities × K photos each, as batch-hard triplet mining needs them.

Drawn at random, every anchor of a batch would rarely meet a photo of its own identity, and
the hardest positive would be no positive at all (Hermans et al., 2017, "In defense of the
triplet loss": P×K batches). Each batch draws P identities without replacement, then K photos
of each, without replacement where the identity has K or more.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from torch.utils.data import Sampler


class IdentityBatches(Sampler[list[int]]):
    """``batches`` batches an epoch, each P = ``people`` identities × K = ``photos`` indices into
    ``identities``; seeded once, so each epoch draws new batches and a run is repeatable. In a
    ddp job each process draws from a generator of its own rank."""

    def __init__(self, identities: NDArray, people: int, photos: int, batches: int, seed: int, rank: int = 0):
        self.members = [np.flatnonzero(identities == i) for i in np.unique(identities)]
        if people > len(self.members):
            raise ValueError(
                f"batches of {people} identities, but the training split has {len(self.members)}"
            )
        self.people, self.photos, self.batches = people, photos, batches
        self.rng = np.random.default_rng([seed, rank])

    def __len__(self) -> int:
        return self.batches

    def __iter__(self):
        for _ in range(self.batches):
            chosen = self.rng.choice(len(self.members), self.people, replace=False)
            yield [
                int(index)
                for identity in chosen
                for index in self.rng.choice(
                    self.members[identity], self.photos, replace=len(self.members[identity]) < self.photos
                )
            ]
