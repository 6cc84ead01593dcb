"""How ``dlpipe predict`` shows a scene's detections: class, score and box corners (x1 y1 x2 y2,
as shares of the image's width and height), one per detection."""

from __future__ import annotations

import numpy as np
import torch

from dlpipe.tasks.detect.yolo import detections

SCORE_THRESHOLD = (
    0.3  # what predict shows; the evaluation scores every detection above detect.score_threshold
)
IOU_THRESHOLD = 0.5


def show(outputs: np.ndarray, names: list[str], top: int) -> str:
    """``3 objects: 7 0.97 (0.12 0.30 0.40 0.58); 1 0.91 (...); ...``, at most ``top`` of them."""
    grid = torch.from_numpy(np.ascontiguousarray(outputs))[None]
    boxes, scores, labels = detections(
        grid, grid.shape[1] // (5 + len(names)), SCORE_THRESHOLD, IOU_THRESHOLD
    )[0]
    if not len(boxes):
        return f"no object (no detection scores {SCORE_THRESHOLD} or more)"
    shown = [
        f"{names[int(label)]} {float(score):.2f} ({' '.join(f'{float(v):.2f}' for v in box)})"
        for box, score, label in list(zip(boxes, scores, labels, strict=True))[:top]
    ]
    return f"{len(boxes)} objects: " + "; ".join(shown)
