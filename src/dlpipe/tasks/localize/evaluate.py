"""Localisation's evaluator: models/NAME + data/localize/split -> reports/models/NAME/.

- metrics.json: on the test split, object accuracy (present/absent called right,
  p_c > 0.5), and over the images with an object, class accuracy, mean IoU of
  the predicted box and the share with IoU ≥ 0.5;
- boxes.png: test images with the true box (green) and the predicted one (red,
  drawn where p_c > 0.5), with true → predicted class;
- diagnosis.json/.md: the primary metric's error on train, val and test.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from dlpipe import paths
from dlpipe.config import Params
from dlpipe.data.drawing import PREDICTED_COLOUR, TRUE_COLOUR, corners
from dlpipe.evaluation import plots, report
from dlpipe.tasks.localize.boxes import score_sums, scores

PLOT = "boxes.png"


def score(outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> dict[str, float]:
    sums = score_sums(outputs, targets)
    measured = scores(sums, torch.tensor(float(len(targets))))
    named = {
        "object_accuracy": "object_acc",
        "class_accuracy": "class_acc",
        "mean_iou": "mean_iou",
        "iou50": "iou50",
    }
    return {
        **{key: round(float(measured[source]), 6) for key, source in named.items()},
        "examples": len(targets),
        "objects": int(sums["objects"]),
    }


def _notes_box_to_yolo(box: np.ndarray) -> np.ndarray:
    """(b_x, b_y, b_h, b_w) -> (cx, cy, w, h)."""
    return np.array([box[0], box[1], box[3], box[2]])


def boxes_plot(
    images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str], count: int, name: str
) -> None:
    shown, titles = [], []
    size = images.shape[1]
    for i in range(min(count, len(images))):
        picture = Image.fromarray(images[i]).resize((size * 2, size * 2), Image.Resampling.NEAREST)
        pen = ImageDraw.Draw(picture)
        truth, guess = targets[i], outputs[i]
        if truth[0] > 0.5:
            pen.rectangle(corners(_notes_box_to_yolo(truth[1:5]), size * 2), outline=TRUE_COLOUR)
        said = guess[0] > 0
        if said:
            box = 1.0 / (1.0 + np.exp(-guess[1:5]))  # the box is the sigmoid of its outputs
            pen.rectangle(corners(_notes_box_to_yolo(box), size * 2), outline=PREDICTED_COLOUR)
        true_name = names[int(truth[5])] if truth[0] > 0.5 else "none"
        guessed = names[int(np.argmax(guess[5:]))] if said else "none"
        shown.append(np.asarray(picture))
        titles.append(f"{true_name}→{guessed}")
    title = f"{name}: test images, true box green, predicted red (true→predicted class)"
    plots.picture_grid(shown, titles, paths.report_dir(name) / PLOT, title)


def run(params: Params, name: str) -> None:
    def plot(images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str]) -> None:
        boxes_plot(images, targets, outputs, names, params.localize.examples, name)

    metrics, found = report.evaluate(params, "localize", name, score, plot, [PLOT])
    print(
        f"evaluate@{name}: object accuracy {metrics['object_accuracy']:.4f}, class accuracy "
        f"{metrics['class_accuracy']:.4f}, mean IoU {metrics['mean_iou']:.4f}, "
        f"IoU≥0.5 {metrics['iou50']:.4f}; dominant gap: {found['dominant']}"
    )
