"""Points drawn on images, one colour per point so that their order shows."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

POINT_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 128, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255))


def draw_points(image: np.ndarray, points: np.ndarray, outline: bool = False) -> np.ndarray:
    """One image with its points as dots, in order (a ring when ``outline``: predictions)."""
    picture = Image.fromarray(image)
    pen = ImageDraw.Draw(picture)
    size = image.shape[1]
    for k, (x, y) in enumerate(points * size):
        colour = POINT_COLOURS[k % len(POINT_COLOURS)]
        box = (x - 2, y - 2, x + 2, y + 2)
        pen.ellipse(box, outline=colour) if outline else pen.ellipse(box, fill=colour)
    return np.asarray(picture)
