"""What the pipeline costs beyond training: each stage's seconds in one `dvc repro` against
the sum of the models' own `fit` seconds (Lightning's `Trainer.fit`: the epochs, validation
included, and its own setup, checkpoints and teardown; train.json's fit_seconds). The ratio
to the epochs alone (train.json's train_seconds) is printed beside it.

Reads the ``dlpipe.preload: STAGE NAME took S s`` lines of a finished run's output
(``make run`` or ``python -m dlpipe.preload dvc repro``, both print them) and each
model's ``reports/models/NAME/train.json``. Prints a table per task family and
writes benchmarks/results/pipeline_cost.json.

    make install && time make run 2>&1 | tee run.log
    .venv/bin/python benchmarks/pipeline_cost.py run.log [--root .] [--wall SECONDS]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from dlpipe.config import load_params
from dlpipe.tasks import FAMILIES

RESULTS = Path(__file__).parent / "results" / "pipeline_cost.json"
STAGE_LINE = re.compile(r"^dlpipe\.preload: (\w+)(?: (\S+))? took ([0-9.]+) s \(exit 0\)")


def stage_seconds(log: Path) -> list[tuple[str, str | None, float]]:
    """(stage, its argument: a model or family, seconds) of every stage that succeeded."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = STAGE_LINE.match(line.strip())
        if match:
            found.append((match[1], match[2], float(match[3])))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--root", type=Path, default=Path("."), help="the project the run wrote")
    parser.add_argument(
        "--wall", type=float, help="the whole `dvc repro`'s seconds (`time`): adds DVC's own bookkeeping"
    )
    args = parser.parse_args()
    stages = stage_seconds(args.log)
    if not any(stage == "train" for stage, _, _ in stages):
        sys.exit(
            f"{args.log}: no 'dlpipe.preload: train NAME took S s (exit 0)' line "
            "(run `dvc repro` through dlpipe.preload)"
        )
    params = load_params(args.root / "params.yaml")
    families = params.model_families

    per_family: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    fit: dict[str, float] = defaultdict(float)
    epochs: dict[str, float] = defaultdict(float)
    for stage, argument, seconds in stages:
        # A model's stage, a family's (split, augment), or one for all (transfer, leaderboard).
        family = families.get(argument) or (argument if argument in FAMILIES else "all")
        per_family[family][stage] += seconds
        if stage == "train":
            summary = json.loads((args.root / "reports/models" / argument / "train.json").read_text())
            fit[family] += summary["fit_seconds"]
            epochs[family] += summary["train_seconds"]

    rows = []
    for family, seconds in per_family.items():
        total = sum(seconds.values())
        rows.append(
            {
                "family": family,
                "stages": {stage: round(s, 1) for stage, s in seconds.items()},
                "stages_seconds": round(total, 1),
                "fit_seconds": round(fit[family], 1),
                "epochs_seconds": round(epochs[family], 1),
                "ratio": round(total / fit[family], 3) if fit[family] else "",
            }
        )
    everything = sum(row["stages_seconds"] for row in rows)
    fitted, trained = sum(fit.values()), sum(epochs.values())
    kinds = list(dict.fromkeys(stage for stage, _, _ in stages))  # in the order they ran
    print("| family | " + " | ".join(kinds) + " | all stages | fit | stages / fit |")
    print("|---|" + "---:|" * (len(kinds) + 3))
    for row in rows:
        shown = " | ".join(f"{row['stages'].get(kind, 0.0):.1f}" for kind in kinds)
        totals = f"{row['stages_seconds']:.1f} | {row['fit_seconds']:.1f} | {row['ratio']}"
        print(f"| {row['family']} | {shown} | {totals} |")
    print(f"\nall families: stages {everything:.1f} s, fit {fitted:.1f} s, ratio {everything / fitted:.3f}")
    print(f"against the epochs alone ({trained:.1f} s): stages {everything / trained:.3f} x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {"rows": rows, "stages_seconds": round(everything, 1), "fit_seconds": round(fitted, 1)}
    report.update(ratio=round(everything / fitted, 3), epochs_seconds=round(trained, 1))
    report["epochs_ratio"] = round(everything / trained, 3)
    if args.wall:
        shown = f"{args.wall / fitted:.3f} x fit, {args.wall / trained:.3f} x the epochs"
        print(f"the whole dvc repro: {args.wall:.1f} s, {shown}")
        report.update(wall_seconds=args.wall, wall_ratio=round(args.wall / fitted, 3))
        report["wall_epochs_ratio"] = round(args.wall / trained, 3)
    # Style transfer trains no model: its work is an optimisation of each gallery image, its
    # own kind of fit, which this ratio also shows counted as such.
    gallery = args.root / "reports/style/metrics.json"
    if gallery.exists() and any(stage == "stylize" for stage, _, _ in stages):
        optimised = sum(pair["seconds"] for pair in json.loads(gallery.read_text())["pairs"].values())
        with_style = fitted + optimised
        report.update(style_optimisation_seconds=round(optimised, 1))
        report["ratio_with_style"] = round(everything / with_style, 3)
        shown = f"stages {everything / with_style:.3f} x"
        if args.wall:
            report["wall_ratio_with_style"] = round(args.wall / with_style, 3)
            shown += f", the whole dvc repro {args.wall / with_style:.3f} x"
        print(f"with the style gallery's optimisations ({optimised:.1f} s) counted as fit: {shown}")
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
