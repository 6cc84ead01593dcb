"""How verification splits become batches: normalised photos and their identities; training
batches of P identities × K photos (sampling.IdentityBatches)."""

from __future__ import annotations

import math

import numpy as np
import torch

from dlpipe.config import Params, TrainParams
from dlpipe.data.tensors import ArrayDataset, to_tensor
from dlpipe.errors import ConfigError
from dlpipe.tasks.verify.sampling import IdentityBatches


def names(arrays: dict[str, np.ndarray]) -> list[str]:
    return [str(n) for n in arrays["names"]]


def dataset(arrays: dict[str, np.ndarray], stats: dict[str, list[float]]) -> ArrayDataset:
    return ArrayDataset(to_tensor(arrays["x"], stats), torch.from_numpy(arrays["identities"]))


def train_batching(params: Params, train: TrainParams, model_key: str):
    """The training loader's batches: (dataset, world, rank) -> an epoch of batch_size / K
    identities × K photos each (``verify.photos_per_identity``), as many batches as plain ones of
    batch_size would cover each process's share."""
    photos = params.verify.photos_per_identity
    if train.batch_size % photos or train.batch_size // photos < 2:
        raise ConfigError(
            f"{model_key}: train.batch_size {train.batch_size} must be a multiple of "
            f"verify.photos_per_identity {photos}, at least two identities' worth"
        )

    def batching(dataset: ArrayDataset, world: int, rank: int) -> IdentityBatches:
        share = math.ceil(len(dataset) / world)
        batches = math.ceil(share / train.batch_size)
        people = train.batch_size // photos
        return IdentityBatches(dataset.y.numpy(), people, photos, batches, train.seed, rank)

    return batching
