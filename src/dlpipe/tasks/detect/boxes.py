"""IoU of boxes image by image, for the losses: torchvision's box_iou takes one image's boxes."""

from __future__ import annotations

import torch
from torch import Tensor


def batched_iou(boxes: Tensor, truths: Tensor) -> Tensor:
    """IoU of N×P×4 boxes with N×K×4 truths, all corners (x1, y1, x2, y2): N×P×K."""
    low = torch.maximum(boxes[:, :, None, :2], truths[:, None, :, :2])
    high = torch.minimum(boxes[:, :, None, 2:], truths[:, None, :, 2:])
    overlap = (high - low).clamp(min=0).prod(-1)
    area = (boxes[..., 2:] - boxes[..., :2]).prod(-1)
    truth_area = (truths[..., 2:] - truths[..., :2]).prod(-1)
    return overlap / (area[:, :, None] + truth_area[:, None, :] - overlap)
