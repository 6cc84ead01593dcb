"""How clip splits become batches: normalised N×C×D×H×W clips and class indices."""

from __future__ import annotations

import numpy as np
import torch

from dlpipe.data.tensors import ArrayDataset, to_tensor


def names(arrays: dict[str, np.ndarray]) -> list[str]:
    return [str(c) for c in arrays["classes"]]


def dataset(arrays: dict[str, np.ndarray], stats: dict[str, list[float]]) -> ArrayDataset:
    return ArrayDataset(to_tensor(arrays["x"], stats), torch.from_numpy(arrays["y"]))
