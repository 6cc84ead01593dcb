"""Localisation data: ``{x, present, labels, boxes, classes}`` per split.

x is uint8 N×S×S×3; present 1 where the image holds an object, 0 where it is
background only; labels the object's class (0 where absent); boxes its YOLO box
(cx, cy, w, h) normalised by the image side (zeros where absent).

The network's target is the notes' y = [p_c, b_x, b_y, b_h, b_w, c]: the box as
centre, height and width, the class as an index (its one-hot c_1 ... c_n is the
cross-entropy's business).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe.config import LocalizeData, Params
from dlpipe.data.drawing import TRUE_COLOUR, draw_box
from dlpipe.data.split import stratified_split


def _strata(present: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Background-only images are a stratum of their own beside each class."""
    return np.where(present == 1, labels + 1, 0)


def _builtin(settings: LocalizeData) -> dict[str, dict[str, np.ndarray]]:
    """Scenes per split from disjoint digit images (data/scenes.py, ``digit_pools``)."""
    from dlpipe.data.scenes import digit_pools, make_scenes, scene_class_names

    arrays = {}
    for pool in digit_pools(settings.images, settings.ratios, settings.seed):
        scenes = make_scenes(
            pool.images, pool.labels, pool.scenes, settings.image_size, settings.empty_share, pool.seed
        )
        arrays[pool.split] = {
            "x": scenes.images,
            "present": scenes.present,
            "labels": scenes.labels,
            "boxes": scenes.boxes,
            "classes": np.array(scene_class_names()),
        }
    return arrays


def _yolo(settings: LocalizeData) -> dict[str, dict[str, np.ndarray]]:
    from dlpipe.data.labels import read_yolo

    images, present, labels, boxes, class_names = read_yolo(Path(settings.path or ""), settings.image_size)
    split = stratified_split(_strata(present, labels), settings.ratios, settings.seed)
    classes = np.array(class_names)
    return {
        name: {
            "x": images[idx],
            "present": present[idx],
            "labels": labels[idx],
            "boxes": boxes[idx],
            "classes": classes,
        }
        for name, idx in split.indices.items()
    }


def split(settings: LocalizeData) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    arrays = _builtin(settings) if settings.source == "scenes" else _yolo(settings)
    report = {
        "source": settings.source,
        "objects": {name: int(split["present"].sum()) for name, split in arrays.items()},
    }
    return arrays, report


def augment(train: dict[str, np.ndarray], params: Params) -> dict[str, np.ndarray]:
    """The originals followed by ``augment.copies`` copies, each box moved with its pixels."""
    settings = params.localize.augment
    from dlpipe.data.augment import augment_boxes

    images, present, labels, boxes = augment_boxes(
        train["x"], train["present"], train["labels"], train["boxes"], settings
    )
    return {
        "x": np.concatenate([train["x"], images]),
        "present": np.concatenate([train["present"], present]),
        "labels": np.concatenate([train["labels"], labels]),
        "boxes": np.concatenate([train["boxes"], boxes]),
        "classes": train["classes"],
    }


def draw(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The images with their boxes drawn (the augment preview)."""
    out = arrays["x"].copy()
    for i in np.flatnonzero(arrays["present"]):
        out[i] = draw_box(out[i], arrays["boxes"][i], TRUE_COLOUR)
    return out
