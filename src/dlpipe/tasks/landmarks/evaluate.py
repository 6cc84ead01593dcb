"""Landmarks' evaluator: models/NAME + data/landmarks/split -> reports/models/NAME/.

- metrics.json: on the test split, NME (mean distance of a predicted point to
  the true one, as a share of the image size) and PCK at landmarks.pck_threshold,
  and the NME of each point;
- points.png: test images with the true points (dots) and the predicted ones
  (rings), one colour per point in order;
- diagnosis.json/.md: the primary metric's error on train, val and test.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from dlpipe import paths
from dlpipe.config import Params
from dlpipe.evaluation import plots, report
from dlpipe.tasks.landmarks.drawing import draw_points
from dlpipe.tasks.landmarks.points import distances, score_sums, scores

PLOT = "points.png"


def scorer(threshold: float) -> report.Score:
    def score(outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> dict[str, float]:
        measured = scores(score_sums(outputs, targets, threshold))
        per_point = distances(outputs, targets).mean(dim=0)
        return {
            "nme": round(float(measured["nme"]), 6),
            "pck": round(float(measured["pck"]), 6),
            **{f"nme.{point}": round(float(value), 6) for point, value in zip(names, per_point, strict=True)},
            "examples": len(targets),
        }

    return score


def points_plot(images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, count: int, name: str) -> None:
    shown, titles = [], []
    size = images.shape[1]
    gaps = distances(torch.from_numpy(outputs), torch.from_numpy(targets)).mean(dim=1).numpy()
    for i in range(min(count, len(images))):
        big = np.asarray(Image.fromarray(images[i]).resize((size * 2, size * 2), Image.Resampling.NEAREST))
        drawn = draw_points(big, targets[i].reshape(-1, 2))
        drawn = draw_points(drawn, outputs[i].reshape(-1, 2), outline=True)
        shown.append(drawn)
        titles.append(f"NME {gaps[i]:.3f}")
    title = f"{name}: test images, true points (dots) and predicted (rings)"
    plots.picture_grid(shown, titles, paths.report_dir(name) / PLOT, title)


def run(params: Params, name: str) -> None:
    def plot(images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str]) -> None:
        points_plot(images, targets, outputs, params.landmarks.examples, name)

    score = scorer(params.landmarks.pck_threshold)
    metrics, found = report.evaluate(params, "landmarks", name, score, plot, [PLOT])
    print(
        f"evaluate@{name}: NME {metrics['nme']:.4f}, PCK@{params.landmarks.pck_threshold:g} "
        f"{metrics['pck']:.4f}; dominant gap: {found['dominant']}"
    )
