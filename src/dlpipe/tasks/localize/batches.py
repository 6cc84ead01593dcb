"""How localisation's splits become batches: normalised images and the notes' targets
y = [p_c, b_x, b_y, b_h, b_w, class] (the box as centre, height and width)."""

from __future__ import annotations

import numpy as np
import torch

from dlpipe.data.tensors import ArrayDataset, to_tensor


def names(arrays: dict[str, np.ndarray]) -> list[str]:
    return [str(c) for c in arrays["classes"]]


def targets(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """float32 N×6: [p_c, b_x, b_y, b_h, b_w, class]."""
    cx, cy, w, h = arrays["boxes"].T
    return np.stack([arrays["present"], cx, cy, h, w, arrays["labels"]], axis=1).astype(np.float32)


def dataset(arrays: dict[str, np.ndarray], stats: dict[str, list[float]]) -> ArrayDataset:
    return ArrayDataset(to_tensor(arrays["x"], stats), torch.from_numpy(targets(arrays)))
