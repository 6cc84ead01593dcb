"""The localisation outputs decoded, and their scores (torch only).

The network's output per image is the notes' y = [p_c, b_x, b_y, b_h, b_w,
c_1 ... c_n]: a logit for "an object is present", the box and one logit per
class. The box (centre, height, width, as shares of the image side) is the
sigmoid of its four outputs, as YOLO decodes its centres: it stays inside
[0, 1] and a fresh network's first squared errors stay small.

IoU(A, B) = area(A ∩ B) / area(A ∪ B).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def localization_loss(outputs: Tensor, targets: Tensor, box_weight: float) -> Tensor:
    """The notes' loss: logistic on p_c for every image; squared error on the box and
    cross-entropy on the class only where an object is present (a background image trains
    p_c alone). Box and class terms average over the images with an object."""
    present = targets[:, 0]
    objectness = F.binary_cross_entropy_with_logits(outputs[:, 0], present)
    mask = present > 0.5
    if not mask.any():
        return objectness
    box_error = ((decode_box(outputs[mask]) - targets[mask, 1:5]) ** 2).sum(dim=1).mean()
    class_loss = F.cross_entropy(outputs[mask, 5:], targets[mask, 5].long())
    return objectness + box_weight * box_error + class_loss


def decode_box(outputs: Tensor) -> Tensor:
    """(b_x, b_y, b_h, b_w) of each row of outputs."""
    return torch.sigmoid(outputs[:, 1:5])


def iou(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise IoU of boxes given as (b_x, b_y, b_h, b_w) rows."""
    a0, a1 = a[:, :2] - a[:, [3, 2]] / 2, a[:, :2] + a[:, [3, 2]] / 2
    b0, b1 = b[:, :2] - b[:, [3, 2]] / 2, b[:, :2] + b[:, [3, 2]] / 2
    overlap = (torch.minimum(a1, b1) - torch.maximum(a0, b0)).clamp(min=0).prod(dim=1)
    area_a = (a1 - a0).clamp(min=0).prod(dim=1)
    area_b = (b1 - b0).clamp(min=0).prod(dim=1)
    return overlap / (area_a + area_b - overlap).clamp(min=1e-12)


def score_sums(outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """Counts over a batch: right present/absent calls, objects, right classes and IoU sums on
    images with an object (the predicted box scored whatever p_c said)."""
    present = targets[:, 0] > 0.5
    said_present = outputs[:, 0] > 0
    overlap = iou(decode_box(outputs[present]), targets[present, 1:5])
    return {
        "object_right": (said_present == present).sum().to(outputs.dtype),
        "objects": present.sum().to(outputs.dtype),
        "class_right": (outputs[present, 5:].argmax(dim=1) == targets[present, 5].long())
        .sum()
        .to(outputs.dtype),
        "iou": overlap.sum(),
        "iou50": (overlap >= 0.5).sum().to(outputs.dtype),
    }


def scores(sums: dict[str, Tensor], examples: Tensor) -> dict[str, Tensor]:
    """object accuracy over all images; class accuracy, mean IoU and share with IoU ≥ 0.5 over
    the images with an object."""
    objects = sums["objects"].clamp(min=1)
    return {
        "object_acc": sums["object_right"] / examples,
        "class_acc": sums["class_right"] / objects,
        "mean_iou": sums["iou"] / objects,
        "iou50": sums["iou50"] / objects,
    }
