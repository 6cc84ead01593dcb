"""What `dvc repro` itself costs a run of dlpipe's pipeline, plain and through dlpipe.dvc_files.

Builds, in a scratch folder, a DVC project with the stages of a finished run's dvc.lock (those
its dvc.yaml still has): each
with that stage's dependencies, params (the run's params.yaml) and outputs, and a command that
only writes its outputs. `dvc repro` of it is then DVC's own work for the run: hashing,
params, the run cache and dvc.lock. Runs it with `python -m dvc` and with `python -m
dlpipe.dvc_files` (as the preloader does) on two copies, checks that both leave the same
dvc.lock, and prints the seconds; writes benchmarks/results/dvc_overhead.json.

    make run                             # a finished run's dvc.lock and params.yaml
    .venv/bin/python benchmarks/dvc_overhead.py [--lock dvc.lock] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from throughput import report

RESULTS = Path(__file__).parent / "results" / "dvc_overhead.json"


def _command(outs: list[dict], inside: list[str], name: str) -> str:
    """Shell lines that write ``outs`` (a folder with the files other stages read from it)."""
    files = []
    for out in outs:
        path = out["path"]
        below = sorted(dep for dep in inside if dep.startswith(path + "/"))
        files += below or ([f"{path}/file"] if out["md5"].endswith(".dir") else [path])
    lines = [
        f"mkdir -p {shlex.quote(os.path.dirname(f) or '.')} && echo {name} > {shlex.quote(f)}" for f in files
    ]
    return " && ".join(lines) or "true"


def build(lock: Path, params: Path, root: Path) -> int:
    """The project in ``root``, committed; how many stages it has."""
    # the project's stages: a lock keeps the entries of stages no longer in dvc.yaml
    listed = subprocess.run(
        [sys.executable, "-m", "dvc", "stage", "list", "--name-only"],
        cwd=lock.parent,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    stages = {
        name: stage for name, stage in yaml.safe_load(lock.read_text())["stages"].items() if name in listed
    }
    written = {out["path"] for stage in stages.values() for out in stage.get("outs", [])}
    read = sorted({dep["path"] for stage in stages.values() for dep in stage.get("deps", [])})
    pipeline = {}
    for name, stage in stages.items():
        for dep in stage.get("deps", []):  # sources: files and folders that no stage writes
            path = root / dep["path"]
            if dep["path"] in written or path.exists():
                continue
            if dep["md5"].endswith(".dir"):
                path.mkdir(parents=True)
                (path / "file").write_text(dep["path"])
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(dep["path"])
        pipeline[name.replace("@", "-")] = {
            "cmd": _command(stage.get("outs", []), read, name),
            "deps": [dep["path"] for dep in stage.get("deps", [])],
            "params": [key for keys in (stage.get("params") or {}).values() for key in keys],
            "outs": [out["path"] for out in stage.get("outs", [])],
        }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": pipeline}, sort_keys=False))
    shutil.copy(params, root / "params.yaml")
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(command, cwd=root, check=True)
    subprocess.run(["git", "add", "dvc.yaml", "params.yaml", ".dvc"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "pipeline"], cwd=root, check=True, env=_git_env())
    return len(pipeline)


def _git_env() -> dict[str, str]:
    names = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"}
    return os.environ | names | {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}


def repro_seconds(root: Path, module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", module, "repro", "-q"], cwd=root, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=Path("dvc.lock"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        plain, ours = Path(scratch, "dvc"), Path(scratch, "dvc_files")
        stages = build(args.lock, args.params, plain)
        shutil.copytree(plain, ours)
        seconds = {
            "dvc": repro_seconds(plain, "dvc"),
            "dlpipe.dvc_files": repro_seconds(ours, "dlpipe.dvc_files"),
        }
        if (plain / "dvc.lock").read_bytes() != (ours / "dvc.lock").read_bytes():
            raise SystemExit("dvc_overhead.py: dlpipe.dvc_files wrote another dvc.lock than DVC")
    rows = [
        {"command": f"python -m {module} repro", "seconds": round(s, 1), "per_stage_s": round(s / stages, 2)}
        for module, s in seconds.items()
    ]
    report(rows, ["command", "seconds", "per_stage_s"], RESULTS)
    RESULTS.write_text(json.dumps({"stages": stages, "rows": rows, "same_lock": True}, indent=2) + "\n")


if __name__ == "__main__":
    main()
