"""What DVC's bookkeeping of dvc.lock costs a `dvc repro`, DVC's way and dlpipe.dvc_files's.

After every stage DVC reads dvc.lock with ruamel's round-trip parser and writes it back whole
(dvc/dvcfile.py, ``Lockfile.dump_stages``), so a stage's cost grows with the stages before
it and a run's with the square of their number (DVC's issue 10629). ``dlpipe.dvc_files``, which
the preloader runs DVC through, parses only a lock it did not write and dumps only the entries
that changed. This replays a finished run's writes, its stages' entries one by one in the lock's
order, through DVC's ``modify_yaml`` and through ``dvc_files.modify_lock``, alternating, and
checks that both leave the same bytes. Prints the seconds of the write after k stages for
several k, and the run's sums; writes benchmarks/results/dvc_lock.json.

    dvc repro                            # a finished run's dvc.lock
    .venv/bin/python benchmarks/dvc_lock.py [--lock dvc.lock] [--points 6]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from dvc.utils.serialize import modify_yaml, parse_yaml_for_update
from throughput import report

from dlpipe import dvc_files

RESULTS = Path(__file__).parent / "results" / "dvc_lock.json"


def write(modify: Callable, path: Path, name: str, entry: dict) -> float:
    """Seconds of one stage's write of its entry, as ``Lockfile.dump_stages`` makes it."""
    start = time.perf_counter()
    with modify(str(path)) as data:
        if not data:
            data.update({"schema": "2.0"})
        data["stages"] = data.get("stages", {})
        data["stages"].update({name: entry})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=Path("dvc.lock"))
    parser.add_argument("--points", type=int, default=6, help="stage counts shown, up to the whole")
    args = parser.parse_args()
    text = args.lock.read_text()
    entries = parse_yaml_for_update(text, str(args.lock))["stages"]
    ours, dvcs = [], []
    with tempfile.TemporaryDirectory() as scratch:
        mine, theirs = Path(scratch, "ours.lock", "dvc.lock"), Path(scratch, "dvc.lock")
        mine.parent.mkdir()
        for name, entry in entries.items():  # alternating, so machine noise hits both alike
            ours.append(write(dvc_files.modify_lock, mine, name, entry))
            dvcs.append(write(modify_yaml, theirs, name, entry))
        same = mine.read_bytes() == theirs.read_bytes()
    if not same:
        raise SystemExit("dvc_lock.py: dlpipe.dvc_files wrote other bytes than DVC")
    rows = [
        {
            "stages": int(k),
            "dvc_s": round(dvcs[k - 1], 3),
            "dvc_files_s": round(ours[k - 1], 3),
        }
        for k in np.unique(np.linspace(1, len(entries), args.points).round().astype(int))
    ]
    report(rows, ["stages", "dvc_s", "dvc_files_s"], RESULTS)
    size = f"{len(entries)} stages, {len(text) / 1024:.0f} KB"
    print(f"{size}: DVC {sum(dvcs):.1f} s, dlpipe.dvc_files {sum(ours):.1f} s")
    result = {
        "rows": rows,
        "run_stages": len(entries),
        "lock_kilobytes": round(len(text) / 1024, 1),
        "run_dvc_s": round(sum(dvcs), 1),
        "run_dvc_files_s": round(sum(ours), 1),
        "same_bytes": same,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
