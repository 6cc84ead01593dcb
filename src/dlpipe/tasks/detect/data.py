"""Detection data: ``{x, image, labels, boxes, classes}`` per split.

x is uint8 N×S×S×3; the objects are one flat table: ``image`` (which image of x each is
in), ``labels`` (its class) and ``boxes`` (YOLO: cx, cy, w, h normalised by the image side).
An image may hold none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpipe.config import DetectData, Params
from dlpipe.data.drawing import TRUE_COLOUR, draw_box
from dlpipe.data.split import stratified_split


def _subset(arrays: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """The images ``keep`` (indices) with their objects, renumbered."""
    new_index = np.full(len(arrays["x"]), -1, dtype=np.int64)
    new_index[keep] = np.arange(len(keep))
    mine = new_index[arrays["image"]] >= 0
    order = np.argsort(new_index[arrays["image"][mine]], kind="stable")
    return {
        "x": arrays["x"][keep],
        "image": new_index[arrays["image"][mine]][order],
        "labels": arrays["labels"][mine][order],
        "boxes": arrays["boxes"][mine][order],
        "classes": arrays["classes"],
    }


def _builtin(settings: DetectData) -> dict[str, dict[str, np.ndarray]]:
    """Scenes per split from disjoint digit images (data/scenes.py, ``digit_pools``)."""
    from dlpipe.data.detection_scenes import make_detection_scenes
    from dlpipe.data.scenes import digit_pools, scene_class_names

    arrays = {}
    for pool in digit_pools(settings.images, settings.ratios, settings.seed):
        scenes = make_detection_scenes(
            pool.images,
            pool.labels,
            pool.scenes,
            settings.image_size,
            settings.max_objects,
            tuple(settings.side_share),
            settings.max_overlap,
            pool.seed,
        )
        arrays[pool.split] = {
            "x": scenes.images,
            "image": scenes.image,
            "labels": scenes.labels,
            "boxes": scenes.boxes,
            "classes": np.array(scene_class_names()),
        }
    return arrays


def _users(settings: DetectData) -> dict[str, dict[str, np.ndarray]]:
    """A YOLO folder or a COCO file, split by image, stratified by each image's first class."""
    from dlpipe.data.labels import read_coco, read_yolo_objects

    read = read_yolo_objects if settings.source == "yolo" else read_coco
    images, image, labels, boxes, class_names = read(Path(settings.path or ""), settings.image_size)
    whole = {"x": images, "image": image, "labels": labels, "boxes": boxes, "classes": np.array(class_names)}
    first = np.zeros(len(images), dtype=np.int64)  # 0: no object; class k: k + 1
    for i in range(len(image) - 1, -1, -1):
        first[image[i]] = labels[i] + 1
    split = stratified_split(first, settings.ratios, settings.seed)
    return {name: _subset(whole, idx) for name, idx in split.indices.items()}


def split(settings: DetectData) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    arrays = _builtin(settings) if settings.source == "scenes" else _users(settings)
    report = {
        "source": settings.source,
        "objects": {name: len(split["labels"]) for name, split in arrays.items()},
    }
    return arrays, report


def augment(train: dict[str, np.ndarray], params: Params) -> dict[str, np.ndarray]:
    """The originals followed by ``detect.augment.copies`` copies, the boxes moved with the pixels."""
    from dlpipe.data.augment import augment_objects

    images, image, labels, boxes = augment_objects(
        train["x"], train["image"], train["labels"], train["boxes"], params.detect.augment
    )
    return {
        "x": np.concatenate([train["x"], images]),
        "image": np.concatenate([train["image"], image + len(train["x"])]),
        "labels": np.concatenate([train["labels"], labels]),
        "boxes": np.concatenate([train["boxes"], boxes]),
        "classes": train["classes"],
    }


def draw(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The images with their boxes drawn (the augment preview)."""
    out = arrays["x"].copy()
    for i, box in zip(arrays["image"], arrays["boxes"], strict=True):
        out[i] = draw_box(out[i], box, TRUE_COLOUR)
    return out
