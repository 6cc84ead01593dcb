"""uint8 image arrays -> normalised float tensors (torch only, no Lightning)."""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(images: np.ndarray, normalization: dict[str, list[float]]) -> torch.Tensor:
    """uint8 N×H×W×C -> float32 N×C×H×W, normalised per channel with train statistics."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(normalization["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(normalization["std"]).view(1, -1, 1, 1)
    return ((x - mean) / std).contiguous()
