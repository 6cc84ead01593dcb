"""Scenes for detection: several handwritten digits, at random scales, on a textured background.

Built like the localisation scenes (data/scenes.py: a real digit from scikit-learn,
upscaled, inked in a colour that contrasts with what lies under it onto a crop of a
natural texture), with 1 to ``max_objects`` digits per scene. Digits may overlap a
little: a place is drawn again while the new box overlaps a placed one by more than
``max_overlap`` IoU, and after PLACE_TRIES failures the scene keeps the digits it has
(at least one). A later digit is inked over an earlier one; each box stays the tight
box of its own digit's ink.

Objects are one flat table (as COCO's annotations): ``image`` (which scene), ``labels``
and ``boxes`` (cx, cy, w, h) normalised by the image side, as data/scenes.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlpipe.data.scenes import alpha_mask, ink, intensity
from dlpipe.data.textures import random_background
from dlpipe.errors import DataError

PLACE_TRIES = 20


@dataclass
class DetectionScenes:
    images: np.ndarray  # uint8 N×S×S×3
    image: np.ndarray  # int64 M: the scene each object is in
    labels: np.ndarray  # int64 M: its class
    boxes: np.ndarray  # float32 M×4: (cx, cy, w, h) normalised


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box with each row of ``others``."""
    low, high = np.maximum(box[:2], others[:, :2]), np.minimum(box[2:], others[:, 2:])
    overlap = np.prod(np.clip(high - low, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    return overlap / (area + np.prod(others[:, 2:] - others[:, :2], axis=1) - overlap)


def make_detection_scenes(
    digits: np.ndarray,
    labels: np.ndarray,
    count: int,
    image_size: int,
    max_objects: int,
    side_share: tuple[float, float],
    max_overlap: float,
    seed: int,
) -> DetectionScenes:
    """``count`` scenes of ``image_size``², each with U{1..max_objects} of ``digits`` (uniformly
    drawn, so a caller gives train/val/test disjoint digit images), each upscaled to a longer
    side of U(side_share) · image_size pixels at a uniform position fully inside the image."""
    ink_levels = intensity(digits)
    labels = np.asarray(labels)
    if len(labels) != len(ink_levels):
        raise DataError(f"digits: {len(ink_levels)} images but {len(labels)} labels")
    rng = np.random.default_rng(seed)
    low, high = (max(1, round(share * image_size)) for share in side_share)
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    scene_of, classes, boxes = [], [], []
    for i in range(count):
        canvas = random_background(rng, image_size)
        placed = np.empty((0, 4))
        for _ in range(int(rng.integers(1, max_objects + 1))):
            index = int(rng.integers(len(ink_levels)))
            alpha = alpha_mask(ink_levels[index], int(rng.integers(low, high + 1)))
            if not alpha.any():
                raise DataError(f"digits: image {index} has no ink above the threshold")
            height, width = alpha.shape
            for _ in range(PLACE_TRIES):
                top = int(rng.integers(image_size - height + 1))
                left = int(rng.integers(image_size - width + 1))
                rows, cols = np.nonzero(alpha)
                box = np.array(
                    [left + cols.min(), top + rows.min(), left + cols.max() + 1, top + rows.max() + 1]
                )
                if not len(placed) or _iou(box, placed).max() <= max_overlap:
                    break
            else:
                continue  # no room for this digit: the scene keeps the ones it has
            x0, y0, x1, y1 = ink(rng, canvas, alpha, top, left)
            placed = np.vstack([placed, [x0, y0, x1, y1]])
            scene_of.append(i)
            classes.append(int(labels[index]))
            boxes.append(np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]) / image_size)
        images[i] = canvas
    return DetectionScenes(
        images,
        np.array(scene_of, dtype=np.int64),
        np.array(classes, dtype=np.int64),
        np.array(boxes, dtype=np.float32).reshape(-1, 4),
    )
