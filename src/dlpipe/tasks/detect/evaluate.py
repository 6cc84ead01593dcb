"""Detection's evaluator: models/NAME + data/detect/split -> reports/models/NAME/.

- metrics.json: on the test split, COCO mAP@0.5, mAP@0.5:0.95 and mean recall at 100
  detections (torchmetrics' MeanAveragePrecision), after the score threshold and NMS per
  class of the detect section;
- boxes.png: test scenes with the true boxes (green) and the detections (red, with class
  and score);
- diagnosis.json/.md: 1 − mAP@0.5 on train, val and test.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from dlpipe import paths
from dlpipe.config import Params
from dlpipe.data.drawing import PREDICTED_COLOUR, TRUE_COLOUR
from dlpipe.evaluation import plots, report
from dlpipe.tasks.detect.scores import true_boxes
from dlpipe.tasks.detect.yolo import detections

PLOT = "boxes.png"


def _anchors(outputs: torch.Tensor, names: list[str]) -> int:
    return outputs.shape[1] // (5 + len(names))


def scorer(params: Params):
    def score(outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> dict[str, float]:
        from torchmetrics.detection import MeanAveragePrecision

        settings = params.detect
        found = detections(
            outputs, _anchors(outputs, names), settings.score_threshold, settings.iou_threshold
        )
        coco = MeanAveragePrecision(iou_type="bbox")
        truth = [dict(zip(("boxes", "labels"), true_boxes(objects), strict=True)) for objects in targets]
        coco.update([{"boxes": b, "scores": s, "labels": c} for b, s, c in found], truth)
        measured = coco.compute()
        return {
            "map50": round(float(measured["map_50"]), 6),
            "map": round(float(measured["map"]), 6),
            "mar100": round(float(measured["mar_100"]), 6),
            "examples": len(targets),
            "objects": int((targets[..., 0] >= 0).sum()),
        }

    return score


def boxes_plot(
    params: Params, images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str], name: str
) -> None:
    settings = params.detect
    count = min(settings.examples, len(images))
    grid = torch.from_numpy(outputs[:count])
    found = detections(
        grid, _anchors(grid, names), max(settings.score_threshold, 0.3), settings.iou_threshold
    )
    shown, titles = [], []
    scale = images.shape[1] * 2
    for i in range(count):
        picture = Image.fromarray(images[i]).resize((scale, scale), Image.Resampling.NEAREST)
        pen = ImageDraw.Draw(picture)
        truth, _ = true_boxes(torch.from_numpy(targets[i]))
        for box in truth:
            pen.rectangle([float(v) * scale for v in box], outline=TRUE_COLOUR)
        boxes, scores, labels = found[i]
        for box, value, label in zip(boxes, scores, labels, strict=True):
            corners = [float(v) * scale for v in box]
            pen.rectangle(corners, outline=PREDICTED_COLOUR)
            pen.text(
                (corners[0] + 1, corners[1]), f"{names[int(label)]} {float(value):.2f}", fill=PREDICTED_COLOUR
            )
        shown.append(np.asarray(picture))
        titles.append(f"{len(truth)} true, {len(boxes)} found")
    title = f"{name}: test scenes, true boxes green, detections red (class, score ≥ 0.3)"
    plots.picture_grid(shown, titles, paths.report_dir(name) / PLOT, title)


def run(params: Params, name: str) -> None:
    def plot(images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str]) -> None:
        boxes_plot(params, images, targets, outputs, names, name)

    metrics, found = report.evaluate(params, "detect", name, scorer(params), plot, PLOT)
    print(
        f"evaluate@{name}: mAP@0.5 {metrics['map50']:.4f}, mAP@0.5:0.95 {metrics['map']:.4f}, "
        f"mean recall {metrics['mar100']:.4f} ({metrics['objects']} objects); "
        f"dominant gap: {found['dominant']}"
    )
