"""Sliding windows over a whole scene: crop by crop, all crops in one batch, and one convolutional pass.

The window classifier (models/sliding_window.py, 28×28 windows, stride 4, 11 classes) on
one RGB scene per run; the three give the same scores (checked here, and by
tests/test_sliding_window.py). Median of ``--repeats`` runs, alternating, on 2 threads.
Prints a table and writes benchmarks/results/sliding_windows.json.

    .venv/bin/python benchmarks/sliding_windows.py [--sizes 96 192] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from throughput import report

from dlpipe.models.sliding_window import STRIDE, WindowClassifier, convolutional

RESULTS = Path(__file__).parent / "results" / "sliding_windows.json"


def crops(scene: torch.Tensor, window: int) -> torch.Tensor:
    """Every crop at the stride, row by row: positions × C × window × window."""
    tiles = scene.unfold(1, window, STRIDE).unfold(2, window, STRIDE)  # C × rows × cols × w × w
    return tiles.permute(1, 2, 0, 3, 4).reshape(-1, scene.shape[0], window, window)


@torch.inference_mode()
def timed(run) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    scores = run()
    return time.perf_counter() - start, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 192])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    classifier = WindowClassifier(3, 11).eval()
    score_map = convolutional(classifier).eval()
    window = classifier.window
    rows = []
    for size in args.sizes:
        scene = torch.rand(3, size, size)
        cut = crops(scene, window)
        ways = {
            "crop_by_crop": lambda cut=cut: torch.cat([classifier(crop[None]) for crop in cut]),
            "one_batch": lambda cut=cut: classifier(cut),
            "convolutional": lambda scene=scene: score_map(scene[None])[0].flatten(1).T,
        }
        seconds = {name: [] for name in ways}
        results = {}
        for _ in range(args.repeats):
            for name, run in ways.items():
                elapsed, results[name] = timed(run)
                seconds[name].append(elapsed)
        for name in ("one_batch", "convolutional"):
            gap = (results[name] - results["crop_by_crop"]).abs().max().item()
            assert gap <= 1e-5, f"{name} differs from crop by crop by {gap}"
        median = {name: statistics.median(times) for name, times in seconds.items()}
        rows.append(
            {
                "scene": f"{size}×{size}",
                "windows": len(cut),
                "crop_by_crop_ms": round(1000 * median["crop_by_crop"], 1),
                "one_batch_ms": round(1000 * median["one_batch"], 2),
                "convolutional_ms": round(1000 * median["convolutional"], 2),
                "speed_up_vs_crops": round(median["crop_by_crop"] / median["convolutional"], 1),
                "speed_up_vs_batch": round(median["one_batch"] / median["convolutional"], 1),
            }
        )
    columns = list(rows[0])
    report(rows, columns, RESULTS)


if __name__ == "__main__":
    main()
