"""How long a stage takes to give up on a tracking server that is down: one that refuses the
connection, and one that accepts it and never answers (both on 127.0.0.1). Runs
``python -m dlpipe train logreg`` in a scratch project with the shipped params.yaml, a few
times each; prints a Markdown table and writes benchmarks/results/tracking_down.json.

    .venv/bin/python benchmarks/tracking_down.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "tracking_down.json"


def _seconds_to_error(project: Path, uri: str) -> tuple[float, int, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "dlpipe", "train", "logreg"],
        cwd=project,
        env={
            "PATH": str(Path(sys.executable).parent),
            "MLFLOW_TRACKING_URI": uri,
            "CUDA_VISIBLE_DEVICES": "",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    return time.monotonic() - started, result.returncode, result.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch, socket.socket() as silent, socket.socket() as closed:
        project = Path(scratch)
        shutil.copy(REPO / "params.yaml", project / "params.yaml")
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts into its backlog, never answers
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        for server, sock in (("refusing", closed), ("silent", silent)):
            uri = f"http://127.0.0.1:{sock.getsockname()[1]}"
            measured = [_seconds_to_error(project, uri) for _ in range(args.runs)]
            rows.append(
                {
                    "server": server,
                    "seconds": [round(s, 2) for s, _, _ in measured],
                    "median_seconds": round(statistics.median(s for s, _, _ in measured), 2),
                    "exit_codes": sorted({code for _, code, _ in measured}),
                    "message": measured[0][2],
                    "files_written": sorted(str(p.relative_to(project)) for p in project.rglob("*"))
                    != ["params.yaml"],
                }
            )
    print("| server | seconds to error (median) | exit | message | files written |")
    print("|---|---:|---:|---|---|")
    for row in rows:
        codes = ", ".join(map(str, row["exit_codes"]))
        written = "yes" if row["files_written"] else "none"
        print(f"| {row['server']} | {row['median_seconds']:.2f} | {codes} | `{row['message']}` | {written} |")
    RESULTS.write_text(json.dumps({"runs": args.runs, "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
