"""uint8 image arrays -> normalised float tensors and in-memory datasets (torch only, no Lightning)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from dlpipe import disk, paths


def to_tensor(images: np.ndarray, normalization: dict[str, list[float]]) -> torch.Tensor:
    """uint8 N×H×W×C -> float32 N×C×H×W (clips: N×D×H×W×C -> N×C×D×H×W), normalised per
    channel with train statistics.

    One copy into the result, then in place: 10× faster than a chain of new tensors on 12,000
    scenes (benchmarks/README.md, "to_tensor"), and the same floats, the same operations in the
    same order."""
    order = (0, images.ndim - 1, *range(1, images.ndim - 1))  # channels second
    x = torch.empty([images.shape[axis] for axis in order], dtype=torch.float32)
    x.copy_(torch.from_numpy(images).permute(order))
    per_channel = (1, -1) + (1,) * (images.ndim - 2)
    mean = torch.tensor(normalization["mean"]).view(per_channel)
    std = torch.tensor(normalization["std"]).view(per_channel)
    return x.div_(255.0).sub_(mean).div_(std)


class ArrayDataset(Dataset):
    """Inputs and targets (class indices, or a float row per example), indexed by a list of
    indices (from a BatchSampler), returning a whole batch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices)
        return self.x[index], self.y[index]


def load_split(
    family: str, path, normalization: dict | None = None, limit: int | None = None
) -> tuple[ArrayDataset, list[str]]:
    """A split file of ``family`` as the family's network inputs and targets, and its names
    (classes, or points); normalised with the family's training statistics. With ``limit``,
    its first ``limit`` examples: only their images become float tensors (a 4,000-scene
    sample of 12,000 detection scenes took a third of the conversion)."""
    from dlpipe.tasks import FAMILIES

    batches = FAMILIES[family].part("batches")
    arrays = disk.load_arrays(path)
    arrays["x"] = arrays["x"][:limit]
    stats = normalization or disk.read_json(paths.normalization(family))
    dataset = batches.dataset(arrays, stats)
    dataset.y = dataset.y[: len(dataset.x)]
    return dataset, batches.names(arrays)
