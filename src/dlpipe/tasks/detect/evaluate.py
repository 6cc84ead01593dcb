"""Detection's evaluator: models/NAME + data/detect/split -> reports/models/NAME/.

After each detector's decoding, the score threshold and NMS per class of the detect section
(tasks/detect/detectors.py), on the test split:

- metrics.json: COCO mAP@0.5, mAP@0.5:0.95 and mean recall at 100 detections (tasks/detect/coco.py:
  faster-coco-eval, held to pycocotools by the tests), each class's AP@0.5, and how many objects
  and detections the test scenes hold; for the two-stage detector, the share of objects its 100
  best proposals find (tasks/detect/two_stage.py);
- pr.csv / pr.png: each class's precision at COCO's 101 recall points, at IoU 0.5;
- predictions.csv / confusion.png: the confusion matrix with a background row and column, of
  the detections that predict and boxes.png show (score ≥ SHOWN_SCORE; scores.confusion_pairs);
- boxes.png: test scenes with the true boxes (green) and those detections (red, class and score);
- diagnosis.json/.md: 1 − mAP@0.5 on train, val and test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from PIL import Image, ImageDraw

from dlpipe import disk, paths
from dlpipe.config import Params
from dlpipe.data.drawing import PREDICTED_COLOUR, TRUE_COLOUR
from dlpipe.evaluation import plots, report
from dlpipe.evaluation.metrics import confusion_matrix
from dlpipe.models.faster_rcnn import TwoStageDetector
from dlpipe.tasks.detect.coco import RECALLS, evaluation
from dlpipe.tasks.detect.detectors import SHOWN_SCORE, detections
from dlpipe.tasks.detect.scores import confusion_pairs, true_boxes
from dlpipe.tasks.detect.two_stage import PROPOSALS_SCORED, proposal_recall

PLOTS = ("boxes.png", "pr.png", "confusion.png", "pr.csv", "predictions.csv")


def precision_at_50(measured: dict, names: list[str]) -> dict[str, np.ndarray]:
    """Each class true or found: its precision at the 101 recall points at IoU 0.5 (all areas,
    100 detections), 0 where it never reaches that recall (or has no true box)."""
    return {
        names[int(label)]: np.clip(measured["precision"][:, k], 0.0, None)
        for k, label in enumerate(measured["classes"])
    }


class Scorer:
    """Scores a split's raw outputs; keeps the last split's detections and COCO evaluation, which
    the test split's plots read (evaluate scores the test split last: computing them again took
    a fifth of the stage)."""

    def __init__(self, params: Params, arch: str):
        self.arch, self.settings = arch, params.detect
        self.found: list = []
        self.measured: dict = {}

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> dict:
        settings = self.settings
        self.found = detections(
            self.arch, outputs, len(names), settings.score_threshold, settings.iou_threshold
        )
        self.measured = evaluation(self.found, targets)
        curves = precision_at_50(self.measured, names)
        return {
            "map50": round(self.measured["map_50"], 6),
            "map": round(self.measured["map"], 6),
            "mar100": round(self.measured["mar_100"], 6),
            "ap50": {name: round(float(curve.mean()), 6) for name, curve in curves.items()},
            "examples": len(targets),
            "objects": int((targets[..., 0] >= 0).sum()),
            "detections": sum(len(boxes) for boxes, _, _ in self.found),
        }


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
    arch = params.arch_of(name)
    score = Scorer(params, arch)

    def plot(images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str]) -> None:
        # the test split's, scored last
        _boxes_plot(images, targets, score.found, names, name, params.detect.examples)
        _pr_reports(precision_at_50(score.measured, names), name)
        _confusion_reports(score.found, torch.from_numpy(targets), names, name)

    @contextmanager
    def recording(model: TwoStageDetector) -> Iterator[Callable[[torch.Tensor], dict[str, float]]]:
        with model.recording_proposals(PROPOSALS_SCORED) as proposals:
            yield lambda targets: {"proposal_recall100": round(proposal_recall(proposals, targets), 6)}

    watch = recording if arch == "faster_rcnn" else None
    metrics, found = report.evaluate(params, "detect", name, score, plot, list(PLOTS), watch)
    recall = f", proposal recall@100 {metrics['proposal_recall100']:.4f}" if watch else ""
    print(
        f"evaluate@{name}: mAP@0.5 {metrics['map50']:.4f}, mAP@0.5:0.95 {metrics['map']:.4f}, "
        f"mean recall {metrics['mar100']:.4f} ({metrics['objects']} objects){recall}; "
        f"dominant gap: {found['dominant']}"
    )
