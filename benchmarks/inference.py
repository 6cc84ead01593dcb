"""Inference over a split: batches of 256 in NCHW (before) against batches of 64 channels-last.

The evaluate and export stages run every model over whole splits (60,000 scenes
for the shipped localisation model). Same model, images and threads; only the
batch size and the layout differ. Prints a table and writes
benchmarks/results/inference.json.

    .venv/bin/python benchmarks/inference.py [--models digit_box corners resnet20] [--images 2048]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from throughput import report

from dlpipe.config import load_params
from dlpipe.evaluation.outputs import predict_outputs
from dlpipe.models.registry import build_model

RESULTS = Path(__file__).parent / "results" / "inference.json"
# (channels, outputs) of the built-in data sets: grey digits, RGB scenes (p_c, box, 10 classes), RGB cards
SHAPES = {"classify": (1, 10), "localize": (3, 15), "landmarks": (3, 8)}


@torch.inference_mode()
def nchw_seconds(model: torch.nn.Module, x: torch.Tensor, batch: int) -> float:
    start = time.perf_counter()
    for first in range(0, len(x), batch):
        model(x[first : first + batch])
    return time.perf_counter() - start


def dlpipe_seconds(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    predict_outputs(model, x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["digit_box", "corners", "resnet20", "lenet5"])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs; the median is kept")
    args = parser.parse_args()
    params = load_params()
    rows = []
    for name in args.models:
        family, settings = params.family_of(name), params.model_settings(name)
        channels, outputs = SHAPES[family]
        size = params.data_of(family).image_size
        model = build_model(settings.arch or name, channels, outputs, size, settings.options).eval()
        x = torch.randn(args.images, channels, size, size, generator=torch.Generator().manual_seed(0))
        predict_outputs(model, x[:256])  # warm-up: oneDNN builds its kernels once
        seconds: dict[str, list[float]] = {"nchw_256": [], "nchw_64": [], "dlpipe": []}
        for _ in range(args.repeats):  # alternate, so machine noise hits all alike
            seconds["nchw_256"].append(nchw_seconds(model, x, 256))
            seconds["nchw_64"].append(nchw_seconds(model, x, 64))
            seconds["dlpipe"].append(dlpipe_seconds(model, x))
        median = {key: statistics.median(values) for key, values in seconds.items()}
        rows.append(
            {
                "model": name,
                "images": args.images,
                "threads": torch.get_num_threads(),
                "nchw_256_images_per_s": round(args.images / median["nchw_256"]),
                "nchw_64_images_per_s": round(args.images / median["nchw_64"]),
                "channels_last_64_images_per_s": round(args.images / median["dlpipe"]),
                "speedup": round(median["nchw_256"] / median["dlpipe"], 2),
            }
        )
    columns = [
        "model",
        "nchw_256_images_per_s",
        "nchw_64_images_per_s",
        "channels_last_64_images_per_s",
        "speedup",
    ]
    report(rows, columns, RESULTS)


if __name__ == "__main__":
    main()
