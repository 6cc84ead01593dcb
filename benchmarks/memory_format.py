"""Channels-last against contiguous (NCHW) layout: a dlpipe training step of each model.

Same model, batch, data and threads; only ``train.memory_format`` differs.
Prints a table and writes benchmarks/results/memory_format.json.

    .venv/bin/python benchmarks/memory_format.py [--models resnet20 inception] [--steps 20]
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch
from throughput import dlpipe_seconds, parse_arguments, random_images, report

from dlpipe.config import load_params

RESULTS = Path(__file__).parent / "results" / "memory_format.json"


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0], steps=20, warmup=3)
    params = load_params()
    data = random_images(args)
    rows = []
    for name in args.models or list(params.models):
        seconds: dict[str, list[float]] = {"contiguous": [], "channels_last": []}
        for _ in range(args.repeats):  # alternate, so machine noise hits both alike
            for layout, samples in seconds.items():
                samples.append(dlpipe_seconds(params, name, data, args.batch, args.warmup, layout))
        contiguous, channels_last = (statistics.median(seconds[k]) for k in ("contiguous", "channels_last"))
        rows.append(
            {
                "model": name,
                "batch": args.batch,
                "threads": torch.get_num_threads(),
                "contiguous_ms_per_step": round(contiguous / args.steps * 1000, 1),
                "channels_last_ms_per_step": round(channels_last / args.steps * 1000, 1),
                "time_ratio": round(channels_last / contiguous, 3),
            }
        )
    report(rows, ["model", "contiguous_ms_per_step", "channels_last_ms_per_step", "time_ratio"], RESULTS)


if __name__ == "__main__":
    main()
