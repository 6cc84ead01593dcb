"""Test-time augmentation: average the class probabilities of several views of each image.

``flip``: the image and its mirror. ``ten_crop``: the image padded by
``padding`` pixels (reflected), cropped back to its size at the centre and the
four corners, and the mirrors of those five (the AlexNet paper's 10 crops).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dlpipe.evaluation.metrics import probabilities
from dlpipe.evaluation.outputs import predict_outputs

MODES = ("none", "flip", "ten_crop")


def five_crops(x: Tensor, padding: int) -> list[Tensor]:
    """Centre, top-left, top-right, bottom-left, bottom-right crops of the padded batch."""
    height, width = x.shape[-2:]
    padded = F.pad(x, (padding,) * 4, mode="reflect")
    last_row, last_col = padded.shape[-2] - height, padded.shape[-1] - width
    corners = [(padding, padding), (0, 0), (0, last_col), (last_row, 0), (last_row, last_col)]
    return [padded[..., top : top + height, left : left + width] for top, left in corners]


def views(x: Tensor, mode: str, padding: int = 2) -> list[Tensor]:
    if mode == "none":
        return [x]
    base = [x] if mode == "flip" else five_crops(x, padding)
    return base + [view.flip(-1) for view in base]


def predict_probabilities(model: nn.Module, x: Tensor, mode: str = "none", padding: int = 2):  # -> np.ndarray
    """Class probabilities averaged over the views of ``mode``."""
    if mode not in MODES:
        raise ValueError(f"unknown test-time augmentation {mode!r} (known: {', '.join(MODES)})")
    with torch.inference_mode():
        per_view = [probabilities(predict_outputs(model, view)) for view in views(x, mode, padding)]
    return sum(per_view) / len(per_view)
