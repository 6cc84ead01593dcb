"""Two fixed costs of the evaluate stage, before and after: COCO's evaluation of detections
(torchmetrics' MeanAveragePrecision as it ran, against tasks/detect/coco.py) and turning a
split's uint8 images into normalised tensors (a chain of new tensors, against data/tensors.py).

The detections are noisy copies of the true boxes of random scenes plus low-scored clutter,
``--per-scene`` of them a scene (the sliding-window detector gave about 50 at the shipped
threshold, YOLO about 1.5). Both evaluations must give the same mAP to 1e-3 and both
conversions the same floats; the median of ``--repeats`` alternating runs. Prints a table and
writes benchmarks/results/evaluation_cost.json.

    .venv/bin/python benchmarks/evaluation_cost.py [--scenes 4000] [--per-scene 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from throughput import report

from dlpipe.data.tensors import to_tensor
from dlpipe.tasks.detect.coco import evaluation
from dlpipe.tasks.detect.scores import true_boxes

RESULTS = Path(__file__).parent / "results" / "evaluation_cost.json"


def scenes(count: int, per_scene: int, seed: int = 0) -> tuple[list, torch.Tensor]:
    """``count`` scenes of 1–6 true boxes (N×6×5 rows) and ``per_scene`` detections each."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.full((count, 6, 5), -1.0)
    found = []
    for i in range(count):
        objects = int(torch.randint(1, 7, (1,), generator=generator))
        centres = 0.2 + 0.6 * torch.rand(objects, 2, generator=generator)
        sizes = 0.1 + 0.2 * torch.rand(objects, 2, generator=generator)
        labels = torch.randint(0, 10, (objects,), generator=generator)
        targets[i, :objects] = torch.cat([labels[:, None].float(), centres, sizes], 1)
        truth, _ = true_boxes(targets[i])
        picks = torch.randint(0, objects, (per_scene,), generator=generator)
        boxes = truth[picks] + 0.03 * torch.randn(per_scene, 4, generator=generator)
        real = torch.arange(per_scene) < objects  # the rest is clutter: lower scores, any class
        scores = torch.rand(per_scene, generator=generator) * torch.where(real, 1.0, 0.3)
        found.append((boxes, scores, torch.where(real, labels[picks], picks % 10)))
    return found, targets


def torchmetrics_map(found: list, targets: torch.Tensor) -> float:
    """The evaluation as evaluate ran it before: class_metrics and extended_summary for each
    class's precision."""
    from torchmetrics.detection import MeanAveragePrecision

    coco = MeanAveragePrecision(
        iou_type="bbox", backend="faster_coco_eval", class_metrics=True, extended_summary=True
    )
    truth = [dict(zip(("boxes", "labels"), true_boxes(objects), strict=True)) for objects in targets]
    coco.update([{"boxes": b, "scores": s, "labels": c} for b, s, c in found], truth)
    return float(coco.compute()["map"])


def chained_to_tensor(images: np.ndarray, normalization: dict) -> torch.Tensor:
    """data/tensors.to_tensor before: each step a new tensor."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(normalization["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(normalization["std"]).view(1, -1, 1, 1)
    return ((x - mean) / std).contiguous()


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4000)
    parser.add_argument("--per-scene", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    found, targets = scenes(args.scenes, args.per_scene)
    images = np.random.default_rng(0).integers(0, 256, (3 * args.scenes, 96, 96, 3), dtype=np.uint8)
    stats = {"mean": [0.45, 0.5, 0.55], "std": [0.2, 0.25, 0.3]}
    before = {"coco": [], "tensor": []}
    after = {"coco": [], "tensor": []}
    for _ in range(args.repeats):  # alternate, so machine noise hits both alike
        seconds, old_map = timed(torchmetrics_map, found, targets)
        before["coco"].append(seconds)
        seconds, new = timed(evaluation, found, targets)
        after["coco"].append(seconds)
        assert abs(old_map - new["map"]) < 1e-3, (old_map, new["map"])
        seconds, old_x = timed(chained_to_tensor, images, stats)
        before["tensor"].append(seconds)
        seconds, new_x = timed(to_tensor, images, stats)
        after["tensor"].append(seconds)
        assert torch.equal(old_x, new_x)
        del old_x, new_x
    rows = []
    steps = {
        "coco": f"COCO mAP, {args.scenes} scenes x {args.per_scene}",
        "tensor": f"to_tensor, {3 * args.scenes} scenes",
    }
    for step, what in steps.items():
        old, new = statistics.median(before[step]), statistics.median(after[step])
        rows.append({"step": what, "before_s": round(old, 2), "after_s": round(new, 2)})
        rows[-1]["speed_up"] = round(old / new, 1)
    report(rows, ["step", "before_s", "after_s", "speed_up"], RESULTS)


if __name__ == "__main__":
    main()
