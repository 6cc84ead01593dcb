"""`kill -9` of `dvc repro` in the middle of a training stage, plain and as `make run` runs it
(preloaded): nothing of it keeps running, no file is left half-written, and the next `dvc repro`
needs no unlock, resumes that stage and runs exactly the stages the first never finished."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import dvc_env, dvc_project

pytestmark = pytest.mark.slow

EPOCHS = 15  # the classification model: long enough to be killed in the middle


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:  # ended meanwhile
        return ""


def _cwd(entry: Path) -> Path | None:
    try:
        return Path(os.readlink(entry / "cwd"))
    except OSError:  # ended meanwhile, or not ours to read
        return None


def _processes_in(root: Path) -> dict[int, str]:
    """pid -> command line of the processes whose working folder is ``root``."""
    return {
        int(entry.name): _cmdline(entry)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _cwd(entry) == root
    }


def _stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


# DVC runs a stage through $SHELL -c: bash becomes the stage, dash (/bin/sh, SHELL unset as in
# CI) stays between DVC and the stage, and outlives DVC.
@pytest.mark.parametrize(
    "preloaded, shell", [(False, None), (True, "/bin/bash")], ids=["plain-sh", "preloaded-bash"]
)
def test_a_killed_repro_leaves_nothing_running_or_half_written_and_the_next_resumes(
    tmp_path, preloaded, shell
):
    root = (tmp_path / "project").resolve()
    dvc_project(root, {"train": {"epochs": EPOCHS}})
    # the classification branch only (split, augment, train, evaluate): what the test is about
    # happens in train@lenet5, and each stage of the other branches would only add its startup
    dvc = [sys.executable, "-m", "dvc", "repro", "evaluate@lenet5"]
    command = [sys.executable, "-m", "dlpipe.preload", *dvc] if preloaded else dvc
    env = dvc_env(root)
    env.pop("SHELL", None)
    env |= {"SHELL": shell} if shell else {}
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    checkpoint = root / ".dlpipe/resume/lenet5/checkpoints/last.ckpt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()
        time.sleep(0.1)
    (repro,) = [
        pid
        for pid, line in _processes_in(root).items()
        # preloaded, DVC runs as `python -m dlpipe.dvc_files repro ...`
        if line.endswith(("-m dvc repro evaluate@lenet5", "-m dlpipe.dvc_files repro evaluate@lenet5"))
        and "dlpipe.preload" not in line
    ]
    os.kill(repro, signal.SIGKILL)  # dvc repro itself, not its stage

    deadline = time.monotonic() + 60
    while _processes_in(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_in(root) == {}  # the stage did not train on as an orphan
    first.wait(timeout=30)
    assert not (root / "models/lenet5/model.pt").exists()
    assert sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp")) == []  # nothing half-written

    second = subprocess.run(dvc, cwd=root, env=dvc_env(root), capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout + second.stderr
    started = _stages_run((tmp_path / "first.log").read_text())
    ran = _stages_run(second.stdout)
    every = ["augment@classify", "evaluate@lenet5", "split@classify", "train@lenet5"]
    assert started[-1] == ran[0] == "train@lenet5"  # killed in it, run again first
    assert sorted(started[:-1] + ran) == every  # the finished stages not again, the rest once
    assert "train@lenet5: resuming from the checkpoint after epoch" in second.stdout
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "evaluate@lenet5"],
        cwd=root,
        env=dvc_env(root),
        capture_output=True,
        text=True,
    )
    assert "Data and pipelines are up to date." in status.stdout
