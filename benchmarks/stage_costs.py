"""Four fixed costs of the evaluate and export stages, before and after (commits cae85db to
d10d2b2), each on the same input, with the "before" code kept here as it ran:

- export: torch's ONNX exporter building its registry of torchlib functions, with onnxscript
  rebuilding every function's signature (before) or with the list the preload server made once
  (after);
- evaluate@detector: the confusion matrix's pairing of detections with true boxes, a torch call
  per detection (before) or numpy (after); both must give the same pairs;
- evaluate@siamese: ROC AUC by ``roc_auc_score``, which sorts the pairs again (before), or from
  the ROC curve already computed (after); both must give the same number;
- evaluate (every family): a grid of 24 pictures with a title each, an axes per picture with
  ``tight_layout`` (before) or one sheet on one axes (after).

The median of ``--repeats`` alternating runs. Prints a table and writes
benchmarks/results/stage_costs.json.

    .venv/bin/python benchmarks/stage_costs.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from throughput import report
from torchvision.ops import box_iou

from dlpipe.evaluation import plots
from dlpipe.tasks.detect.scores import IOU, confusion_pairs, true_boxes

RESULTS = Path(__file__).parent / "results" / "stage_costs.json"


def grid_before(images: list[np.ndarray], titles: list[str], path: Path, title: str) -> None:
    """plots.picture_grid as it was: an axes per picture, laid out by tight_layout."""
    columns = min(8, max(1, len(images)))
    rows = max(1, -(-len(images) // columns))
    aspect = max((image.shape[1] / image.shape[0] for image in images), default=1.0)
    figure, axes = plt.subplots(
        rows, columns, figsize=(min(1.8 * columns * aspect, 16), 2.0 * rows + 0.4), squeeze=False
    )
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, text in zip(axes.flat, images, titles, strict=False):
        axis.imshow(image, interpolation="nearest")
        axis.set_title(text, fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    plots._save(figure, path)


def pairs_before(found: list, targets: torch.Tensor, classes: int, score_threshold: float):
    """scores.confusion_pairs as it was: torch calls in the loop over detections."""
    actual, predicted = [], []
    for (boxes, scores, labels), objects in zip(found, targets, strict=True):
        truth_boxes, truth_labels = true_boxes(objects)
        shown = scores >= score_threshold
        boxes, scores, labels = boxes[shown], scores[shown], labels[shown]
        overlaps = box_iou(boxes, truth_boxes) if len(boxes) and len(truth_boxes) else None
        taken = torch.zeros(len(truth_boxes), dtype=torch.bool)
        for i in torch.argsort(scores, descending=True, stable=True).tolist():
            best = -1
            if overlaps is not None:
                candidates = overlaps[i].masked_fill(taken, -1.0)
                best = int(candidates.argmax()) if candidates.max() >= IOU else -1
            if best >= 0:
                taken[best] = True
            actual.append(int(truth_labels[best]) if best >= 0 else classes)
            predicted.append(int(labels[i]))
        for missed in truth_labels[~taken].tolist():
            actual.append(missed)
            predicted.append(classes)
    return torch.tensor(actual, dtype=torch.long), torch.tensor(predicted, dtype=torch.long)


def detections(scenes: int, per_scene: int, seed: int = 0) -> tuple[list, torch.Tensor]:
    """Scenes of 1-6 true boxes and ``per_scene`` detections each: jittered copies of the true
    boxes and clutter, scores uniform (the sliding-window detector showed about 46 a scene)."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.full((scenes, 6, 5), -1.0)
    found = []
    for i in range(scenes):
        objects = int(torch.randint(1, 7, (1,), generator=generator))
        targets[i, :objects, 0] = torch.randint(0, 10, (objects,), generator=generator).float()
        targets[i, :objects, 1:3] = 0.2 + 0.6 * torch.rand(objects, 2, generator=generator)
        targets[i, :objects, 3:] = 0.1 + 0.2 * torch.rand(objects, 2, generator=generator)
        corners, _ = true_boxes(targets[i])
        picked = corners[torch.randint(0, objects, (per_scene,), generator=generator)]
        boxes = picked + 0.05 * torch.randn(per_scene, 4, generator=generator)
        labels = torch.randint(0, 10, (per_scene,), generator=generator)
        found.append((boxes, torch.rand(per_scene, generator=generator), labels))
    return found, targets


def auc_before(same: np.ndarray, distances: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score, roc_curve

    roc_curve(same, -distances)
    return float(roc_auc_score(same, -distances))


def auc_after(same: np.ndarray, distances: np.ndarray) -> float:
    from sklearn.metrics import auc, roc_curve

    far, tar, _ = roc_curve(same, -distances)
    return float(auc(far, tar))


def registry_seconds() -> tuple[Callable[[], object], Callable[[], object]]:
    """Building the exporter's registry with onnxscript's uncached list, then with the cached one."""
    from torch.onnx._internal._lazy_import import onnxscript_apis
    from torch.onnx._internal.exporter._registration import ONNXRegistry

    apis = importlib.import_module(onnxscript_apis._name)
    uncached, cached = apis.get_torchlib_ops, functools.cache(apis.get_torchlib_ops)
    cached()  # what the preload server does once

    def build(listing: Callable[[], list]) -> Callable[[], object]:
        def run() -> object:
            apis.get_torchlib_ops = listing
            try:
                return sorted(map(str, ONNXRegistry.from_torchlib().functions))
            finally:
                apis.get_torchlib_ops = uncached

        return run

    return build(uncached), build(cached)


def timed(before: Callable[[], object], after: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of each, alternating; they must give the same result."""
    spent: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        results = []
        for samples, run in zip(spent, (before, after), strict=True):
            start = time.perf_counter()
            results.append(run())
            samples.append(time.perf_counter() - start)
        first, second = results
        same = (
            all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
            if isinstance(first, tuple)
            else first == second
        )
        if not same:
            raise SystemExit("before and after differ")
    return statistics.median(spent[0]), statistics.median(spent[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    found, targets = detections(4000, 46)
    distances = rng.random(4_000_000)
    same = rng.random(len(distances)) < 0.02 + 0.5 * (distances < 0.1)
    pictures = [rng.integers(0, 255, (192, 192, 3), dtype=np.uint8) for _ in range(24)]
    titles = ["3 true, 2 found"] * len(pictures)
    with tempfile.TemporaryDirectory() as scratch:
        sheet = Path(scratch, "grid.png")
        cases = {
            "ONNX exporter's registry (export)": registry_seconds(),
            "confusion pairs, 4,000 scenes × 46 (evaluate@detector)": (
                lambda: pairs_before(found, targets, 10, 0.3),
                lambda: confusion_pairs(found, targets, 10, 0.3),
            ),
            "ROC AUC, 4 million pairs (evaluate@siamese)": (
                lambda: auc_before(same, distances),
                lambda: auc_after(same, distances),
            ),
            "grid of 24 pictures (evaluate)": (
                lambda: grid_before(pictures, titles, sheet, "grid"),
                lambda: plots.picture_grid(pictures, titles, sheet, "grid"),
            ),
        }
        rows = []
        for step, (before, after) in cases.items():
            before_s, after_s = timed(before, after, args.repeats)
            rows.append(
                {
                    "step": step,
                    "before_s": round(before_s, 3),
                    "after_s": round(after_s, 3),
                    "speedup": round(before_s / after_s, 1),
                }
            )
    report(rows, ["step", "before_s", "after_s", "speedup"], RESULTS)


if __name__ == "__main__":
    main()
