"""Does ddp train as well as one process at the same global batch?

Each model trains twice through `python -m dlpipe train` and is scored by `evaluate`, as
`dvc repro` runs them: in one process at ``--batch`` (the shipped 64), and with
``train.strategy: ddp`` on two CPU processes at half that each (gloo). Same steps, same
epochs, same seed. The issue's target: test accuracy within 1 point. Runs in a copy of the
current project's params.yaml and data (split and augment done), so the project is left as
it was. Prints a Markdown table and writes benchmarks/results/ddp.json.

    dvc repro augment@classify
    .venv/bin/python benchmarks/ddp.py [--models logreg lenet5 resnet20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

RESULTS = Path(__file__).parent / "results" / "ddp.json"
TARGET_POINTS = 1.0


def scored(workdir: Path, name: str, train: dict) -> dict:
    """train@NAME then evaluate@NAME with ``train`` over the model's own train settings."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    model = params["models"].get(name) or {}
    params["models"][name] = {**model, "train": {**(model.get("train") or {}), **train}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    for stage in ("train", "evaluate"):
        subprocess.run([sys.executable, "-m", "dlpipe", stage, name], cwd=workdir, env=env, check=True)
    report = workdir / "reports/models" / name
    summary = json.loads((report / "train.json").read_text())
    return {
        "accuracy": json.loads((report / "metrics.json").read_text())["accuracy"],
        "steps": summary["steps"],
        "train_seconds": summary["train_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["logreg", "lenet5", "resnet20"])
    parser.add_argument("--batch", type=int, default=64, help="the global batch of both runs")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        shutil.copy("params.yaml", workdir / "params.yaml")
        for folder in ("data", "reports/classify"):  # the split, augmented data and their report
            shutil.copytree(folder, workdir / folder)
        for name in args.models:
            one = scored(workdir, name, {"batch_size": args.batch, "strategy": "auto", "devices": 1})
            two = scored(workdir, name, {"batch_size": args.batch // 2, "strategy": "ddp", "devices": 2})
            gap = round(100 * (one["accuracy"] - two["accuracy"]), 2)
            rows.append({"model": name, "one_process": one, "ddp_two_processes": two, "gap_points": gap})
    half = args.batch // 2
    print(f"\n| model | one process, batch {args.batch} | ddp, 2 × {half} | gap (points) | steps |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        one, two = row["one_process"], row["ddp_two_processes"]
        print(
            f"| {row['model']} | {one['accuracy']:.4f} | {two['accuracy']:.4f} | {row['gap_points']:+.2f} "
            f"| {one['steps']} / {two['steps']} |"
        )
    worst = max(abs(row["gap_points"]) for row in rows)
    print(f"largest gap {worst:.2f} points (target ≤ {TARGET_POINTS})")
    RESULTS.write_text(json.dumps({"batch": args.batch, "rows": rows, "largest_gap": worst}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
