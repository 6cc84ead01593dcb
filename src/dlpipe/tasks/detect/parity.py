"""Export parity of a detector after its decoding and NMS: the boxes the exported model leads
to, through the same ``detectors.detections`` as the trained one, must be the same boxes.

Raw outputs within ``export.max_abs_diff`` can still part at NMS (two boxes of near-equal
score swap, a score at the threshold falls on the other side), so the detections are
compared too: every detection of the trained network must have one of the exported's, of
its class, at IoU ≥ MATCH_IOU with a score within MATCH_SCORE, and the counts must agree.
Two boxes of a class whose IoU sits at the NMS threshold can part either way under float
noise (measured: 4 of 69,855 sliding-window detections on 4,000 scenes): export fails when
more than MAX_UNMATCHED_SHARE of the detections are unmatched.
Detections within MATCH_SCORE of a cut (the score threshold, or an image's 100th score where
it keeps MOST_DETECTIONS) are left out on both sides: either side may fall either way there.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import box_iou

from dlpipe.config import Params
from dlpipe.tasks.detect.detectors import MOST_DETECTIONS, detections

MATCH_IOU = 0.99
MATCH_SCORE = 1e-4
MAX_UNMATCHED_SHARE = 1e-4


def _unmatched(ours: tuple[torch.Tensor, ...], theirs: tuple[torch.Tensor, ...]) -> int:
    """Detections of either side left without a counterpart (matched greedily, one to one)."""
    boxes, scores, labels = ours
    other_boxes, other_scores, other_labels = theirs
    matched = 0
    if len(boxes) and len(other_boxes):
        fits = box_iou(boxes, other_boxes) >= MATCH_IOU
        fits &= labels[:, None] == other_labels[None, :]
        fits &= (scores[:, None] - other_scores[None, :]).abs() <= MATCH_SCORE
        if (fits.sum(dim=1) <= 1).all() and (fits.sum(dim=0) <= 1).all():  # each pairing unique
            return len(boxes) + len(other_boxes) - 2 * int(fits.any(dim=1).sum())
        taken = torch.zeros(len(other_boxes), dtype=torch.bool)
        for row in fits:
            free = torch.nonzero(row & ~taken)
            if len(free):
                taken[free[0, 0]] = True
                matched += 1
    return len(boxes) + len(other_boxes) - 2 * matched


def _clear_of_cuts(image: tuple[torch.Tensor, ...], score_threshold: float) -> tuple[torch.Tensor, ...]:
    boxes, scores, labels = image
    low = score_threshold
    if len(scores) >= MOST_DETECTIONS:
        low = max(low, float(scores.min()))
    clear = scores >= low + MATCH_SCORE
    return boxes[clear], scores[clear], labels[clear]


def check(
    params: Params, arch: str, classes: int, eager: np.ndarray, exported: list[np.ndarray]
) -> dict[str, int | list[int]]:
    """How many detections the trained network makes on its ``eager`` outputs, and for each of
    the ``exported`` models' outputs, how many of its or the trained network's detections have
    no counterpart on the other side."""
    settings = params.detect

    def cleared(outputs: np.ndarray) -> list[tuple[torch.Tensor, ...]]:
        found = detections(
            arch, torch.from_numpy(outputs), classes, settings.score_threshold, settings.iou_threshold
        )
        return [_clear_of_cuts(image, settings.score_threshold) for image in found]

    ours = cleared(eager)
    return {
        "detections": sum(len(image[0]) for image in ours),
        "detections_unmatched": [
            sum(_unmatched(a, b) for a, b in zip(ours, cleared(outputs), strict=True)) for outputs in exported
        ],
    }
