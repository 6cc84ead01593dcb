"""How detection's splits become batches: normalised images and, per image, its objects as
rows (class, cx, cy, w, h), padded to the most objects one image holds with class −1."""

from __future__ import annotations

import numpy as np
import torch

from dlpipe.data.tensors import ArrayDataset, to_tensor


def names(arrays: dict[str, np.ndarray]) -> list[str]:
    return [str(c) for c in arrays["classes"]]


def targets(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """float32 N×K×5, N the images of ``x`` (a split's first images keep their objects), K the
    most objects one of them holds (at least 1)."""
    count = len(arrays["x"])
    kept = arrays["image"] < count
    image_of, labels, boxes = arrays["image"][kept], arrays["labels"][kept], arrays["boxes"][kept]
    per_image = np.bincount(image_of, minlength=count)
    out = np.full((count, max(1, int(per_image.max(initial=0))), 5), -1.0, dtype=np.float32)
    slot = np.zeros(count, dtype=np.int64)
    for image, label, box in zip(image_of, labels, boxes, strict=True):
        out[image, slot[image]] = (label, *box)
        slot[image] += 1
    return out


def dataset(arrays: dict[str, np.ndarray], stats: dict[str, list[float]]) -> ArrayDataset:
    return ArrayDataset(to_tensor(arrays["x"], stats), torch.from_numpy(targets(arrays)))
