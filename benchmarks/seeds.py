"""Do the shipped classification recipes hold on other seeds? Each model of ``models:`` trained
with ``train.seed`` 0, 1, 2 on the same split (``data.seed`` fixed), scored on the test split.

Each run is scored with the checkpoint train@NAME keeps (its best epoch on
``evaluate.primary_metric``) and ``evaluate.tta``, as evaluate@NAME scores it.
The floors are the recipes' promise: every CNN's minimum ≥ 0.98, the MLPs' ≥
0.97, logistic regression's ≥ 0.94, and the best single model's mean ≥ 0.995.
Prints a Markdown table and writes benchmarks/results/seeds.json.

    dvc repro augment@classify          # the split and augmented data it trains on
    .venv/bin/python benchmarks/seeds.py [--models lenet5 resnet20] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from ablation import train_once

from dlpipe import paths
from dlpipe.config import Params, load_params
from dlpipe.evaluation.outputs import split_inputs
from dlpipe.evaluation.tta import predict_probabilities

RESULTS = Path(__file__).parent / "results" / "seeds.json"
BEST_MEAN = 0.995


def floor(params: Params, name: str) -> float:
    """The least test accuracy a seed may give: logistic regression 0.94, MLPs 0.97, CNNs 0.98."""
    arch = params.arch_of(name)
    return 0.94 if arch == "logreg" else 0.97 if arch.startswith("mlp") else 0.98


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="models of params.yaml's models (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON file to write")
    args = parser.parse_args()
    if not paths.augmented_train("classify").exists():
        sys.exit(f"{paths.augmented_train('classify')}: missing; run `dvc repro augment@classify` first")
    params = load_params()
    names = args.models or list(params.models)
    unknown = [name for name in names if name not in params.models]
    if unknown:
        sys.exit(f"--models {unknown[0]}: not a model of models in params.yaml")
    x, labels, _ = split_inputs("classify", "test")

    rows, started = [], time.perf_counter()
    for name in names:
        train = params.train_for(name)
        length = f"{train.steps} steps" if train.steps else f"{train.epochs} epochs"
        accuracies = []
        for seed in range(args.seeds):
            model = train_once(params, name, seed, {}, {}, True)
            predicted = predict_probabilities(model, x, params.evaluate.tta, params.evaluate.tta_padding)
            accuracies.append(float((predicted.argmax(axis=1) == labels).mean()))
        row = {
            "model": name,
            "length": length,
            "accuracies": accuracies,
            "min": min(accuracies),
            "mean": statistics.mean(accuracies),
            "floor": floor(params, name),
        }
        row["holds"] = row["min"] >= row["floor"]
        rows.append(row)
        print(f"{name}: {' '.join(f'{a:.4f}' for a in accuracies)}", flush=True)

    best = max(rows, key=lambda row: row["mean"])
    print(
        f"\ndigits, data.seed {params.data.seed}, train.seed 0..{args.seeds - 1}, test set of {len(labels)}\n"
    )
    print("| model | length | per seed | min | mean | floor | holds |")
    print("|---|---:|---|---:|---:|---:|---|")
    for row in rows:
        shown = ", ".join(f"{a:.4f}" for a in row["accuracies"])
        print(
            f"| {row['model']} | {row['length']} | {shown} | {row['min']:.4f} | {row['mean']:.4f} "
            f"| {row['floor']:.2f} | {'yes' if row['holds'] else 'NO'} |"
        )
    print(f"\nbest mean: {best['model']} {best['mean']:.4f} (goal ≥ {BEST_MEAN})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "data_seed": params.data.seed,
        "seeds": args.seeds,
        "test_examples": len(labels),
        "checkpoint": f"best {params.monitor('classify')[0]}",
        "tta": params.evaluate.tta,
        "seconds": round(time.perf_counter() - started, 1),
        "best_mean": {"model": best["model"], "mean": best["mean"], "goal": BEST_MEAN},
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
