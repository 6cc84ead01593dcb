"""Non-max suppression: the notes' two steps, and torchvision's, which the pipeline runs.

The notes, for each class on its own:

1. drop every box whose score p_c is below ``score_threshold``;
2. while boxes remain: keep the one of highest score, and discard each remaining box
   whose IoU with it is above ``iou_threshold``.

``reference_nms`` is that loop, written to be read; ``nms`` does the same with
``torchvision.ops.batched_nms`` (one call for every class). Both return the kept indices
in descending score, and a property test holds them identical on random boxes.

Boxes are (x1, y1, x2, y2) corners.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms, box_iou


def reference_nms(
    boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float, score_threshold: float
) -> Tensor:
    """Indices of the kept boxes, by the notes' two steps per class, in descending score."""
    kept: list[int] = []
    for label in labels.unique():
        candidates = [
            int(i)
            for i in torch.nonzero((labels == label) & (scores >= score_threshold)).flatten()  # step 1
        ]
        candidates.sort(key=lambda i: -float(scores[i]))
        while candidates:  # step 2
            best, *rest = candidates
            kept.append(best)
            overlaps = box_iou(boxes[best : best + 1], boxes[rest]).flatten() if rest else []
            # the float32 IoU against the threshold as a Python float (a double), as torchvision's
            # kernel compares them: at an IoU of exactly 0.3, 0.3 in float32 is above 0.3
            candidates = [
                i for i, overlap in zip(rest, overlaps, strict=True) if float(overlap) <= iou_threshold
            ]
    kept.sort(key=lambda i: -float(scores[i]))
    return torch.tensor(kept, dtype=torch.int64)


def nms(
    boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float, score_threshold: float
) -> Tensor:
    """The same keeps as ``reference_nms``, by torchvision in one call for every class."""
    candidates = torch.nonzero(scores >= score_threshold).flatten()
    keep = batched_nms(boxes[candidates], scores[candidates], labels[candidates], iou_threshold)
    return candidates[keep]
