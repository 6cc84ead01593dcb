"""Detection's evaluator: models/NAME + data/detect/split -> reports/models/NAME/.

After each detector's decoding, the score threshold and NMS per class of the detect section
(tasks/detect/detectors.py), on the test split:

- metrics.json: COCO mAP@0.5, mAP@0.5:0.95 and mean recall at 100 detections (torchmetrics'
  MeanAveragePrecision on faster-coco-eval, held to pycocotools by the tests), each class's
  AP@0.5, and how many objects and detections the test scenes hold; for the two-stage
  detector, the share of objects its 100 best proposals find (tasks/detect/two_stage.py);
- pr.csv / pr.png: each class's precision at COCO's 101 recall points, at IoU 0.5;
- predictions.csv / confusion.png: the confusion matrix with a background row and column, of
  the detections that predict and boxes.png show (score ≥ SHOWN_SCORE; scores.confusion_pairs);
- boxes.png: test scenes with the true boxes (green) and those detections (red, class and score);
- diagnosis.json/.md: 1 − mAP@0.5 on train, val and test.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from dlpipe import disk, paths
from dlpipe.config import Params
from dlpipe.data.drawing import PREDICTED_COLOUR, TRUE_COLOUR
from dlpipe.evaluation import plots, report
from dlpipe.evaluation.metrics import confusion_matrix
from dlpipe.models.faster_rcnn import TwoStageDetector
from dlpipe.tasks.detect.detectors import SHOWN_SCORE, detections
from dlpipe.tasks.detect.scores import confusion_pairs, true_boxes
from dlpipe.tasks.detect.two_stage import proposal_recall

PLOTS = ("boxes.png", "pr.png", "confusion.png", "pr.csv", "predictions.csv")
RECALLS = np.linspace(0.0, 1.0, 101)  # COCO's recall points


def coco_map(
    found: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], targets: torch.Tensor, backend: str
) -> dict[str, torch.Tensor]:
    """torchmetrics' COCO evaluation of ``found`` against ``targets`` (N×K×5 rows), per class too."""
    from torchmetrics.detection import MeanAveragePrecision

    coco = MeanAveragePrecision(iou_type="bbox", backend=backend, class_metrics=True, extended_summary=True)
    truth = [dict(zip(("boxes", "labels"), true_boxes(objects), strict=True)) for objects in targets]
    coco.update([{"boxes": b, "scores": s, "labels": c} for b, s, c in found], truth)
    return coco.compute()


def precision_at_50(measured: dict[str, torch.Tensor], names: list[str]) -> dict[str, np.ndarray]:
    """Each class with true boxes: its precision at the 101 recall points at IoU 0.5 (all
    areas, 100 detections), 0 where it never reaches that recall."""
    precision = measured["precision"][0, :, :, 0, -1]  # recall points × classes
    return {
        names[int(label)]: precision[:, k].clamp(min=0).numpy()
        for k, label in enumerate(measured["classes"].tolist())
    }


def scorer(params: Params, arch: str):
    def score(outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> dict:
        settings = params.detect
        found = detections(arch, outputs, len(names), settings.score_threshold, settings.iou_threshold)
        measured = coco_map(found, targets, "faster_coco_eval")
        curves = precision_at_50(measured, names)
        return {
            "map50": round(float(measured["map_50"]), 6),
            "map": round(float(measured["map"]), 6),
            "mar100": round(float(measured["mar_100"]), 6),
            "ap50": {name: round(float(curve.mean()), 6) for name, curve in curves.items()},
            "examples": len(targets),
            "objects": int((targets[..., 0] >= 0).sum()),
            "detections": sum(len(boxes) for boxes, _, _ in found),
        }

    return score


def _boxes_plot(
    images: np.ndarray, targets: np.ndarray, found: list, names: list[str], name: str, count: int
) -> None:
    shown, titles = [], []
    scale = images.shape[1] * 2
    for i in range(min(count, len(images))):
        picture = Image.fromarray(images[i]).resize((scale, scale), Image.Resampling.NEAREST)
        pen = ImageDraw.Draw(picture)
        truth, _ = true_boxes(torch.from_numpy(targets[i]))
        for box in truth:
            pen.rectangle([float(v) * scale for v in box], outline=TRUE_COLOUR)
        boxes, scores, labels = (part[found[i][1] >= SHOWN_SCORE] for part in found[i])
        for box, value, label in zip(boxes, scores, labels, strict=True):
            corners = [float(v) * scale for v in box]
            pen.rectangle(corners, outline=PREDICTED_COLOUR)
            pen.text(
                (corners[0] + 1, corners[1]), f"{names[int(label)]} {float(value):.2f}", fill=PREDICTED_COLOUR
            )
        shown.append(np.asarray(picture))
        titles.append(f"{len(truth)} true, {len(boxes)} found")
    title = f"{name}: test scenes, true boxes green, detections red (class, score ≥ {SHOWN_SCORE})"
    plots.picture_grid(shown, titles, paths.report_dir(name) / "boxes.png", title)


def _pr_reports(curves: dict[str, np.ndarray], name: str) -> None:
    rows = [
        f"{label},{recall:.2f},{value:.6f}"
        for label, curve in curves.items()
        for recall, value in zip(RECALLS, curve, strict=True)
    ]
    disk.write_text(paths.report_dir(name) / "pr.csv", "class,recall,precision\n" + "\n".join(rows) + "\n")
    plots.precision_recall(
        curves, RECALLS, paths.report_dir(name) / "pr.png", f"{name}: precision-recall at IoU 0.5"
    )


def _confusion_reports(found: list, targets: torch.Tensor, names: list[str], name: str) -> None:
    actual, predicted = confusion_pairs(found, targets, len(names), SHOWN_SCORE)
    labels = [*names, "background"]
    rows = [f"{labels[a]},{labels[p]}" for a, p in zip(actual.tolist(), predicted.tolist(), strict=True)]
    disk.write_text(paths.report_dir(name) / "predictions.csv", "actual,predicted\n" + "\n".join(rows) + "\n")
    matrix = confusion_matrix(actual.numpy(), predicted.numpy(), len(labels))
    plots.confusion_matrix(
        matrix, labels, paths.report_dir(name) / "confusion.png", f"{name} (score ≥ {SHOWN_SCORE})"
    )


def run(params: Params, name: str) -> None:
    arch, settings = params.arch_of(name), params.detect

    def plot(images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str]) -> None:
        truth = torch.from_numpy(targets)
        found = detections(
            arch, torch.from_numpy(outputs), len(names), settings.score_threshold, settings.iou_threshold
        )
        _boxes_plot(images, targets, found, names, name, settings.examples)
        _pr_reports(precision_at_50(coco_map(found, truth, "faster_coco_eval"), names), name)
        _confusion_reports(found, truth, names, name)

    def recall(model: TwoStageDetector, x: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        return {"proposal_recall100": round(proposal_recall(model, x, targets), 6)}

    measure = recall if arch == "faster_rcnn" else None
    metrics, found = report.evaluate(params, "detect", name, scorer(params, arch), plot, list(PLOTS), measure)
    recall = f", proposal recall@100 {metrics['proposal_recall100']:.4f}" if measure else ""
    print(
        f"evaluate@{name}: mAP@0.5 {metrics['map50']:.4f}, mAP@0.5:0.95 {metrics['map']:.4f}, "
        f"mean recall {metrics['mar100']:.4f} ({metrics['objects']} objects){recall}; "
        f"dominant gap: {found['dominant']}"
    )
