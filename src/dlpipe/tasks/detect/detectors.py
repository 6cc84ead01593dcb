"""How each detector's output becomes detections: its decoding, then the score threshold and
NMS per class, one function for the trained network, its ONNX export and ``dlpipe predict``."""

from __future__ import annotations

from torch import Tensor

from dlpipe.tasks.detect import two_stage, windows, yolo
from dlpipe.tasks.detect.nms import nms

SHOWN_SCORE = 0.3  # the detections predict, boxes.png and the confusion matrix show (mAP ranks all)
# An image's best detections kept after NMS: COCO's mAP reads no more (its maxDets), and
# torchvision's detectors keep as many (detections_per_img).
MOST_DETECTIONS = 100


def decode(arch: str, outputs: Tensor, classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Every candidate box of ``arch``'s raw ``outputs`` (N×P×4 corners), its score and class (N×P)."""
    if arch == "yolo":
        return yolo.decode(outputs, outputs.shape[1] // (5 + classes))
    if arch == "sliding_window":
        return windows.decode(outputs)
    if arch == "faster_rcnn":
        return two_stage.decode(outputs)
    raise ValueError(f"{arch} is not a detector")


def detections(
    arch: str, outputs: Tensor, classes: int, score_threshold: float, iou_threshold: float
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Per image: the boxes, scores and classes that survive the threshold and NMS per class, the
    MOST_DETECTIONS best at most, best first."""
    found = []
    for boxes, scores, labels in zip(*decode(arch, outputs, classes), strict=True):
        keep = nms(boxes, scores, labels, iou_threshold, score_threshold)[:MOST_DETECTIONS]
        found.append((boxes[keep], scores[keep], labels[keep]))
    return found
