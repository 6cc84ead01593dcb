"""Export parity of a detector after its decoding and NMS: the boxes the exported model leads
to, through the same ``detectors.detections`` as the trained one, must be the same boxes.

Raw outputs within ``export.max_abs_diff`` can still part at NMS (two boxes of near-equal
score swap, a score at the threshold falls on the other side), so the detections are
compared too: every detection of the trained network must have one of the exported's, of
its class, at IoU ≥ MATCH_IOU with a score within MATCH_SCORE, and the counts must agree.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import box_iou

from dlpipe.config import Params
from dlpipe.tasks.detect.detectors import detections

MATCH_IOU = 0.99
MATCH_SCORE = 1e-4


def _unmatched(ours: tuple[torch.Tensor, ...], theirs: tuple[torch.Tensor, ...]) -> int:
    """Detections of either side left without a counterpart (matched greedily, one to one)."""
    boxes, scores, labels = ours
    other_boxes, other_scores, other_labels = theirs
    matched = 0
    if len(boxes) and len(other_boxes):
        fits = box_iou(boxes, other_boxes) >= MATCH_IOU
        fits &= labels[:, None] == other_labels[None, :]
        fits &= (scores[:, None] - other_scores[None, :]).abs() <= MATCH_SCORE
        taken = torch.zeros(len(other_boxes), dtype=torch.bool)
        for row in fits:
            free = torch.nonzero(row & ~taken)
            if len(free):
                taken[free[0, 0]] = True
                matched += 1
    return len(boxes) + len(other_boxes) - 2 * matched


def check(
    params: Params, arch: str, classes: int, eager: np.ndarray, exported: np.ndarray
) -> dict[str, float]:
    """How many detections the trained network makes on these outputs, and how many of its or
    the exported model's have no counterpart on the other side."""
    settings = params.detect
    found = [
        detections(arch, torch.from_numpy(outputs), classes, settings.score_threshold, settings.iou_threshold)
        for outputs in (eager, exported)
    ]
    unmatched = sum(_unmatched(a, b) for a, b in zip(*found, strict=True))
    return {"detections": sum(len(f[0]) for f in found[0]), "detections_unmatched": unmatched}
