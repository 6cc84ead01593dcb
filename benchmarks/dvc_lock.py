"""What DVC's bookkeeping of dvc.lock costs a `dvc repro`, stage by stage.

After every stage DVC reads dvc.lock with ruamel's round-trip parser and writes it back whole
(dvc/dvcfile.py, ``Lockfile.dump_stages``), so a stage's cost grows with the stages before
it and a run's with the square of their number (DVC's issue 10629). This times DVC's own
functions on a finished run's dvc.lock cut after its first k stages, for several k, and sums
the round trips of a run that writes the stages one by one in the lock's order. Prints a
table and writes benchmarks/results/dvc_lock.json.

    dvc repro                            # a finished run's dvc.lock
    .venv/bin/python benchmarks/dvc_lock.py [--lock dvc.lock] [--points 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import yaml
from dvc.utils.serialize._yaml import _dump, parse_yaml_for_update
from throughput import report

RESULTS = Path(__file__).parent / "results" / "dvc_lock.json"


def round_trip_seconds(text: str, repeats: int) -> float:
    """Median seconds of one parse and dump of ``text``, as DVC does after a stage."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        data = parse_yaml_for_update(text, "dvc.lock")
        _dump(data, io.StringIO())
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=Path("dvc.lock"))
    parser.add_argument("--points", type=int, default=6, help="lock sizes timed, up to the whole")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    stages = yaml.safe_load(args.lock.read_text())["stages"]
    names = list(stages)
    rows = []
    for count in np.unique(np.linspace(1, len(names), args.points).round().astype(int)).tolist():
        text = yaml.safe_dump(
            {"schema": "2.0", "stages": {n: stages[n] for n in names[:count]}}, sort_keys=False
        )
        rows.append(
            {
                "stages": count,
                "kilobytes": round(len(text.encode()) / 1024, 1),
                "round_trip_s": round(round_trip_seconds(text, args.repeats), 3),
            }
        )
    # a run's sum: the round trip after stage k, interpolated between the timed sizes
    timed = [r["stages"] for r in rows], [r["round_trip_s"] for r in rows]
    run_seconds = float(np.interp(np.arange(1, len(names) + 1), *timed).sum())
    report(rows, ["stages", "kilobytes", "round_trip_s"], RESULTS)
    print(f"{len(names)} stages: {run_seconds:.1f} s of round trips in a run")
    result = {"rows": rows, "run_stages": len(names), "run_round_trip_s": round(run_seconds, 1)}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
