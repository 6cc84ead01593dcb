"""Boxes drawn on images: the augment preview and the evaluation plot."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

TRUE_COLOUR = (0, 255, 0)
PREDICTED_COLOUR = (255, 0, 0)


def corners(box: np.ndarray, size: int) -> tuple[float, float, float, float]:
    """A YOLO box (cx, cy, w, h) as pixel corners (x0, y0, x1, y1)."""
    cx, cy, w, h = (float(v) * size for v in box)
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def draw_box(image: np.ndarray, box: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """A copy of ``image`` with the YOLO ``box`` outlined."""
    picture = Image.fromarray(image)
    ImageDraw.Draw(picture).rectangle(corners(box, image.shape[1]), outline=colour)
    return np.asarray(picture)
