"""Ablation on digits: each training technique on and off, over several seeds, for one model.

Every variant changes one thing against the baseline (the shipped params.yaml
recipe for the model) and is trained from scratch with each seed; each run is
scored with the checkpoint the pipeline would keep (its best epoch on
``evaluate.primary_metric``, as train@NAME's BestCheckpoint picks it), and
test accuracy and weighted error are reported as mean ± std. Test-time
augmentation and the ensemble reuse the baseline's models. Prints a Markdown
table and writes benchmarks/results/ablation.json.

    dvc repro augment   # the split and augmented data it trains on
    .venv/bin/python benchmarks/ablation.py [--model lenet5] [--seeds 3] [--epochs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch

from dlpipe import paths
from dlpipe.config import Params, TrainParams, load_params, with_train_overrides
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.data.tensors import load_split
from dlpipe.evaluation.metrics import class_weight_vector, summary_metrics
from dlpipe.evaluation.outputs import split_inputs
from dlpipe.evaluation.tta import predict_probabilities
from dlpipe.tasks.classify.task import ClassificationTask
from dlpipe.training.callbacks import BestCheckpoint
from dlpipe.training.trainer import build_trainer

RESULTS = Path(__file__).parent / "results" / "ablation.json"

# name -> (train overrides, model option overrides, train on the augmented data?)
VARIANTS: dict[str, tuple[dict, dict, bool]] = {
    "baseline": ({}, {}, True),
    "no augmentation": ({}, {}, False),
    "no label smoothing": ({"label_smoothing": 0.0}, {}, True),
    "no weight decay": ({"weight_decay": 0.0}, {}, True),
    "explicit L2 (λ=1) instead of weight decay": ({"weight_decay": 0.0, "l2_penalty": 1.0}, {}, True),
    "dropout keep_prob 0.7": ({"keep_prob": 0.7}, {}, True),
    "batch norm": ({}, {"batch_norm": True}, True),
    "mixup α=0.2": ({"mixup_alpha": 0.2}, {}, True),
    "manifold mixup α=2": ({"manifold_mixup_alpha": 2.0}, {}, True),
    "SGD + Nesterov momentum 0.9 (lr 0.05)": ({"optimizer": "sgd", "lr": 0.05, "nesterov": True}, {}, True),
    "RMSprop (lr 1e-3)": ({"optimizer": "rmsprop", "lr": 0.001}, {}, True),
    "Adam, no schedule": ({"optimizer": "adam", "schedule": "constant"}, {}, True),
    "inverse-time decay + 1 warm-up epoch": (
        {"schedule": "inverse_time", "decay_rate": 0.5, "warmup_epochs": 1},
        {},
        True,
    ),
    "gradient clipping (norm 1)": ({"gradient_clip": 1.0}, {}, True),
    "early stopping (val_loss, patience 2)": (
        {"early_stopping": {"monitor": "val_loss", "patience": 2}},
        {},
        True,
    ),
}


def train_once(params: Params, name: str, seed: int, train: dict, options: dict, augmented: bool):
    """Train one variant with one seed; return the model of its best epoch on the primary metric
    (the checkpoint train@NAME keeps), in eval mode. ``train`` may set the length (epochs or steps)."""
    settings = with_train_overrides(params.train_for(name).model_dump(), {**train, "seed": seed})
    settings.update(accelerator="cpu", devices=1)
    pl.seed_everything(seed, workers=True, verbose=False)
    source = paths.augmented_train("classify") if augmented else paths.split_file("classify", "train")
    train_set, names = load_split("classify", source)
    val_set, _ = load_split("classify", paths.split_file("classify", "val"))
    data = ArrayDataModule(train_set, val_set, names, settings["batch_size"], seed)
    task = ClassificationTask.build(
        params,
        name,
        data,
        {**params.model_settings(name).options, **options},
        TrainParams.model_validate(settings),
    )
    monitor, mode = params.monitor("classify")  # as train@NAME's BestCheckpoint
    with tempfile.TemporaryDirectory() as scratch:
        best = BestCheckpoint(dirpath=scratch, filename="best", monitor=monitor, mode=mode)
        trainer = build_trainer(
            task.train_params,
            logger=False,
            callbacks=[best],
            train_examples=len(train_set),
            root_dir=Path(scratch),
            primary_monitor=monitor,
        )
        trainer.fit(task, datamodule=data)
        checkpoint = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
    best_task = ClassificationTask(**checkpoint["hyper_parameters"])
    best_task.load_state_dict(checkpoint["state_dict"])
    return best_task.model.eval()


def scores(probabilities: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    summary = summary_metrics(labels, probabilities.argmax(axis=1), weights)
    return summary["accuracy"], summary["weighted_error"]


def summarise(name: str, results: list[tuple[float, float]]) -> dict:
    accuracy, weighted = [r[0] for r in results], [r[1] for r in results]
    spread = statistics.stdev if len(results) > 1 else (lambda values: 0.0)
    return {
        "variant": name,
        "runs": len(results),
        "accuracy_mean": statistics.mean(accuracy),
        "accuracy_std": spread(accuracy),
        "weighted_error_mean": statistics.mean(weighted),
        "weighted_error_std": spread(weighted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = parser.parse_args()
    if not paths.augmented_train("classify").exists():
        sys.exit(f"{paths.augmented_train('classify')}: missing; run `dvc repro augment@classify` first")
    params = load_params()
    if args.model not in params.models:
        sys.exit(f"--model {args.model}: not a model of models in params.yaml")
    x, labels, class_names = split_inputs("classify", "test")
    weights = class_weight_vector(class_names, params.evaluate.class_weights)

    rows, baseline_probabilities = [], []
    started = time.perf_counter()
    for name, (train, options, augmented) in VARIANTS.items():
        if args.only and name not in args.only and name != "baseline":
            continue
        results = []
        for seed in range(args.seeds):
            model = train_once(params, args.model, seed, {**train, "epochs": args.epochs}, options, augmented)
            probabilities = predict_probabilities(model, x)
            results.append(scores(probabilities, labels, weights))
            if name == "baseline":
                baseline_probabilities.append((model, probabilities))
        rows.append(summarise(name, results))
        print(f"{name}: {rows[-1]['accuracy_mean']:.4f} ± {rows[-1]['accuracy_std']:.4f}", flush=True)
    for mode in ("flip", "ten_crop"):
        tta = [
            scores(predict_probabilities(model, x, mode), labels, weights)
            for model, _ in baseline_probabilities
        ]
        rows.append(summarise(f"baseline + TTA {mode}", tta))
    averaged = np.mean([p for _, p in baseline_probabilities], axis=0)
    rows.append(
        summarise(f"ensemble of the {args.seeds} baseline seeds", [scores(averaged, labels, weights)])
    )

    print(
        f"\n{args.model} on digits, {args.epochs} epochs, seeds 0..{args.seeds - 1}, "
        f"each run scored at its best {params.monitor('classify')[0]}\n"
    )
    print("| variant | runs | test accuracy | weighted error |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['variant']} | {row['runs']} | {row['accuracy_mean']:.4f} ± {row['accuracy_std']:.4f} "
            f"| {row['weighted_error_mean']:.4f} ± {row['weighted_error_std']:.4f} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "model": args.model,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "checkpoint": f"best {params.monitor('classify')[0]}",
        "class_weights": params.evaluate.class_weights,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
