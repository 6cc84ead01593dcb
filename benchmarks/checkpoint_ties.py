"""Which epoch should train@NAME keep when several tie on the monitored metric?

Lightning's ModelCheckpoint keeps the first epoch that reached the best value;
train@NAME's BestCheckpoint keeps the latest. On a small validation split (40
faces) many epochs tie at 1.0 and the first is barely trained. This trains and
evaluates each model twice through the stages' own code, in the current project
(split and augment done): once with Lightning's rule (first of the ties) and once
as shipped (the latest of them). Prints a Markdown table and writes
benchmarks/results/checkpoint_ties_<LABEL>.json.

    python benchmarks/carry_over.py /tmp/co-faces --label faces --source faces
    cd /tmp/co-faces && python /path/to/benchmarks/checkpoint_ties.py --label faces
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint

from dlpipe import disk
from dlpipe.config import load_params
from dlpipe.stages import evaluate, train
from dlpipe.training.callbacks import BestCheckpoint

RESULTS = Path(__file__).parent / "results"
SHIPPED = BestCheckpoint.check_monitor_top_k


def scored(name: str) -> dict:
    """train@NAME then evaluate@NAME; its test metrics."""
    params = load_params()
    train.run(params, name)
    evaluate.run(params, name)
    return disk.read_json(Path("reports/models") / name / "metrics.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="names the results file")
    parser.add_argument("--models", nargs="+", default=["logreg", "lenet5", "vgg16_bn", "resnet20"])
    args = parser.parse_args()
    rows = []
    for name in args.models:
        BestCheckpoint.check_monitor_top_k = ModelCheckpoint.check_monitor_top_k
        first = scored(name)
        BestCheckpoint.check_monitor_top_k = SHIPPED
        last = scored(name)
        rows.append({"model": name, "first_of_ties": first, "last_of_ties": last})
    print("\n| model | test accuracy, first of ties (Lightning) | last of ties (shipped) |")
    print("|---|---:|---:|")
    for row in rows:
        first, last = row["first_of_ties"]["accuracy"], row["last_of_ties"]["accuracy"]
        print(f"| {row['model']} | {first:.4f} | {last:.4f} |")
    out = RESULTS / f"checkpoint_ties_{args.label}.json"
    out.write_text(json.dumps({"label": args.label, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
