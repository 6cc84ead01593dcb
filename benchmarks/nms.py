"""NMS: the notes' loop (reference_nms) against torchvision's batched_nms, at 100 to 5,000 boxes.

Random boxes of digit size on a 96-pixel scene, 10 classes, distinct scores; IoU
threshold 0.5, no score threshold (every box is a candidate, the worst case). Both keep the
same boxes (checked here, and by tests/test_nms.py); the median of ``--repeats`` runs,
alternating. Prints a table and writes benchmarks/results/nms.json.

    .venv/bin/python benchmarks/nms.py [--boxes 100 1000 5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from throughput import report

from dlpipe.tasks.detect.nms import nms, reference_nms

RESULTS = Path(__file__).parent / "results" / "nms.json"


def random_detections(count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    corner = torch.rand(count, 2, generator=generator) * 80
    size = 8 + torch.rand(count, 2, generator=generator) * 24
    boxes = torch.cat([corner, corner + size], dim=1)
    scores = (torch.randperm(count, generator=generator).float() + 1) / (count + 1)
    labels = torch.randint(0, 10, (count,), generator=generator)
    return boxes, scores, labels


def seconds(suppress, detections) -> float:
    start = time.perf_counter()
    suppress(*detections, 0.5, 0.0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for count in args.boxes:
        found = random_detections(count)
        kept = reference_nms(*found, 0.5, 0.0)
        assert nms(*found, 0.5, 0.0).tolist() == kept.tolist(), "the two NMS disagree"
        reference, library = [], []
        for _ in range(args.repeats):
            reference.append(seconds(reference_nms, found))
            library.append(seconds(nms, found))
        ref_s, lib_s = statistics.median(reference), statistics.median(library)
        rows.append(
            {
                "boxes": count,
                "kept": len(kept),
                "reference_ms": round(1000 * ref_s, 2),
                "torchvision_ms": round(1000 * lib_s, 3),
                "speed_up": round(ref_s / lib_s, 1),
            }
        )
    report(rows, ["boxes", "kept", "reference_ms", "torchvision_ms", "speed_up"], RESULTS)


if __name__ == "__main__":
    main()
