"""Pruning pays: the same seeded study with each pruner (median, successive halving, Hyperband)
and with none.

Each runs ``--trials`` trials of ``tune.space`` for one model (TPE with the same
seed, ``tune.epochs`` epochs a trial) on the split and augmented data of this
project; MLflow and the studies go to a temporary folder. Prints the epochs
trained and the best validation accuracy of each, and writes
benchmarks/results/pruning.json.

    dvc repro augment@classify
    .venv/bin/python benchmarks/pruning.py [--model lenet5] [--trials 20] [--pruners successive_halving none]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import optuna

from dlpipe import paths
from dlpipe.config import load_params
from dlpipe.tuning import study

RESULTS = Path(__file__).parent / "results" / "pruning.json"


def run_study(params, name: str, trials: int, pruner: str, folder: Path) -> dict:
    tuned = params.model_copy(update={"tune": params.tune.model_copy(update={"pruner": pruner})})
    url, study_name = f"sqlite:///{folder}/optuna-{pruner}.db", f"pruning-{pruner}"
    started = time.perf_counter()
    opened = study.load_study(tuned, url, study_name, family=params.family_of(name))
    study.parent_run(tuned, opened, name, url)
    study.optimize(tuned, url, study_name, name, trials, None, 0)
    loaded = optuna.load_study(study_name=study_name, storage=url)
    finished = loaded.trials
    return {
        "pruner": pruner,
        "trials": len(finished),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in finished),
        "epochs_trained": sum(len(t.intermediate_values) for t in finished),
        "best_value": loaded.best_value,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pruners", nargs="+", default=["median", "successive_halving", "hyperband", "none"])
    args = parser.parse_args()
    if "none" not in args.pruners:
        sys.exit("--pruners must include none: the savings are measured against it")
    if not paths.augmented_train("classify").exists():
        sys.exit(f"{paths.augmented_train('classify')}: missing; run `dvc repro augment@classify` first")
    params = load_params()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{scratch}/mlflow.db"
        for pruner in args.pruners:
            rows.append(run_study(params, args.model, args.trials, pruner, Path(scratch)))
    baseline = next(row for row in rows if row["pruner"] == "none")
    for row in rows:
        row["epochs_saved"] = round(1 - row["epochs_trained"] / baseline["epochs_trained"], 4)
    print(
        f"\n{args.model}, {args.trials} trials of {params.tune.epochs} epochs, TPE seed {params.tune.seed}\n"
    )
    print(f"| pruner | pruned trials | epochs trained | best {params.evaluate.monitor[0]} | seconds |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['pruner']} | {row['pruned']} | {row['epochs_trained']} "
            f"({row['epochs_saved']:.0%} saved) | {row['best_value']:.4f} | {row['seconds']:.0f} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {"model": args.model, "trials": args.trials, "epochs_per_trial": params.tune.epochs}
    RESULTS.write_text(json.dumps({**report, "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
