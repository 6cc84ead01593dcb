"""COCO's box evaluation of detections: mAP@0.5, mAP@0.5:0.95, mean recall at 100 detections,
and every class's precision at COCO's 101 recall points.

The ground truth and the detections go to the COCO API as whole arrays, and one evaluation
gives every class's precision. torchmetrics' MeanAveragePrecision did the same through a Python
loop per box and one more evaluation per class: 45 of the 78 s of evaluating the sliding-window
detector (benchmarks/README.md, "Detection's evaluation"). faster-coco-eval runs it; pycocotools,
the reference, runs the same code in the tests, which hold the two to 1e-3 and the pipeline's
metrics to torchmetrics' pycocotools evaluation.

Boxes are (x1, y1, x2, y2) shares of the image, as COCO takes pixels: only the "all" area range
is read.
"""

from __future__ import annotations

import contextlib
import io
from importlib import import_module

import numpy as np
import torch

from dlpipe.tasks.detect.scores import true_boxes

RECALLS = np.linspace(0.0, 1.0, 101)  # COCO's recall points


def _api(backend: str):
    """(COCO, COCOeval) of ``backend``."""
    if backend == "faster_coco_eval":
        module = import_module("faster_coco_eval")
        return module.COCO, module.COCOeval_faster
    if backend == "pycocotools":
        return import_module("pycocotools.coco").COCO, import_module("pycocotools.cocoeval").COCOeval
    raise ValueError(f"unknown COCO backend {backend!r}: faster_coco_eval or pycocotools")


def _xywh(boxes: list[torch.Tensor]) -> np.ndarray:
    """Corners to (x, y, width, height) in the boxes' own float32, as torchvision's box_convert
    gives them, joined."""
    joined = np.concatenate([np.zeros((0, 4), np.float32), *(b.numpy() for b in boxes)])
    return np.concatenate([joined[:, :2], joined[:, 2:] - joined[:, :2]], axis=1).astype(np.float64)


def _dataset(images: int, classes: np.ndarray, boxes: list, labels: list, scores: list | None = None) -> dict:
    """A COCO data set (images 0…images−1) of each image's ``boxes`` and ``labels`` (and ``scores``),
    annotation ids from 1 (COCOeval takes 0 for "unmatched")."""
    xywh = _xywh(boxes)
    image_ids = np.repeat(np.arange(images), [len(b) for b in boxes]).tolist()
    label_ids = np.concatenate([np.zeros(0, np.int64), *(c.numpy() for c in labels)]).tolist()
    areas = (xywh[:, 2] * xywh[:, 3]).tolist()
    annotations = [
        {"id": n + 1, "image_id": i, "category_id": c, "bbox": box, "area": area, "iscrowd": 0}
        for n, (i, c, box, area) in enumerate(zip(image_ids, label_ids, xywh.tolist(), areas, strict=True))
    ]
    if scores is not None:
        for annotation, score in zip(annotations, torch.cat([torch.zeros(0), *scores]).tolist(), strict=True):
            annotation["score"] = score
    return {
        "images": [{"id": i} for i in range(images)],
        "categories": [{"id": int(c)} for c in classes],
        "annotations": annotations,
    }


def evaluation(
    found: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    targets: torch.Tensor,
    backend: str = "faster_coco_eval",
) -> dict[str, float | np.ndarray]:
    """``found`` (per image: boxes, scores, classes) against ``targets`` (N×K×5 rows, class −1
    for none): map, map_50, mar_100, and ``precision`` (101 recall points × classes, at IoU 0.5,
    all areas, 100 detections; −1 where a class has no true box) for the ``classes`` that are
    true or found, in ascending order."""
    coco_class, evaluator = _api(backend)
    true_box, true_label = zip(*(true_boxes(objects) for objects in targets), strict=True)
    found_box, found_score, found_label = zip(*found, strict=True)
    classes = np.unique(torch.cat([torch.zeros(0, dtype=torch.int64), *true_label, *found_label]).numpy())
    if not sum(map(len, found_box)) or not sum(map(len, true_box)):
        return _nothing_found(classes)
    ground, detected = coco_class(), coco_class()
    ground.dataset = _dataset(len(targets), classes, true_box, true_label)
    detected.dataset = _dataset(len(targets), classes, found_box, found_label, found_score)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints as it goes
        ground.createIndex()
        detected.createIndex()
        run = evaluator(ground, detected, "bbox")
        run.evaluate()
        run.accumulate()
        run.summarize()
    return {
        "map": float(run.stats[0]),
        "map_50": float(run.stats[1]),
        "mar_100": float(run.stats[8]),
        "precision": np.asarray(run.eval["precision"])[0, :, :, 0, -1],
        "classes": classes,
    }


def _nothing_found(classes: np.ndarray) -> dict[str, float | np.ndarray]:
    """No detection, or no true box: nothing found, every score 0."""
    return {
        "map": 0.0,
        "map_50": 0.0,
        "mar_100": 0.0,
        "precision": np.zeros((len(RECALLS), len(classes))),
        "classes": classes,
    }
