"""The clips' evaluator: models/NAME + data/clips/split -> reports/models/NAME/.

- metrics.json: test accuracy and each class's accuracy;
- clips.png: test clips as strips of their frames, the true and the predicted class;
- diagnosis.json/.md: the error (1 - accuracy) on train, val and test.
"""

from __future__ import annotations

import numpy as np
import torch

from dlpipe import paths
from dlpipe.config import Params
from dlpipe.evaluation import plots, report

PLOT = "clips.png"


def score(outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> dict[str, float]:
    right = outputs.argmax(dim=1) == targets
    per_class = {
        name: round(float(right[targets == k].float().mean()), 6)
        for k, name in enumerate(names)
        if bool((targets == k).any())
    }
    return {
        "accuracy": round(float(right.float().mean()), 6),
        "class_accuracy": per_class,
        "examples": len(targets),
    }


def strip(clip: np.ndarray) -> np.ndarray:
    """D×S×S×C frames side by side, a grey line between, as RGB."""
    frames, size = clip.shape[0], clip.shape[1]
    rgb = np.repeat(clip, 3, axis=-1) if clip.shape[-1] == 1 else clip
    out = np.full((size, frames * (size + 1) - 1, 3), 128, dtype=np.uint8)
    for t in range(frames):
        out[:, t * (size + 1) : t * (size + 1) + size] = rgb[t]
    return out


def clips_plot(
    clips: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str], count: int, name: str
) -> None:
    predicted = outputs.argmax(axis=1)
    shown = [strip(clip) for clip in clips[:count]]
    titles = [f"{names[t]} -> {names[p]}" for t, p in zip(targets[:count], predicted[:count], strict=True)]
    plots.picture_grid(
        shown, titles, paths.report_dir(name) / PLOT, f"{name}: test clips, true -> predicted", columns=1
    )


def run(params: Params, name: str) -> None:
    def plot(clips: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str]) -> None:
        clips_plot(clips, targets, outputs, names, params.clips.examples, name)

    metrics, found = report.evaluate(params, "clips", name, score, plot, [PLOT])
    print(f"evaluate@{name}: accuracy {metrics['accuracy']:.4f}; dominant gap: {found['dominant']}")
