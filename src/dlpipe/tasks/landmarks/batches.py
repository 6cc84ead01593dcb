"""How landmark splits become batches: normalised images and the flat target row
(x_1, y_1, ..., x_K, y_K)."""

from __future__ import annotations

import numpy as np
import torch

from dlpipe.data.tensors import ArrayDataset, to_tensor


def names(arrays: dict[str, np.ndarray]) -> list[str]:
    return [str(n) for n in arrays["point_names"]]


def dataset(arrays: dict[str, np.ndarray], stats: dict[str, list[float]]) -> ArrayDataset:
    flat = arrays["points"].reshape(len(arrays["points"]), -1).astype(np.float32)
    return ArrayDataset(to_tensor(arrays["x"], stats), torch.from_numpy(flat))
