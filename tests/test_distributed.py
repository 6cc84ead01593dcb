"""ddp on CPU (gloo): two processes from `dvc repro` (plain and preloaded, as `make run` runs it),
two single-process "nodes" started with torchrun on 127.0.0.1, and a peer lost mid-training.

Each process takes its share of every epoch, so an epoch has half the optimiser steps of one
process; the first process alone writes the model, the reports and the one MLflow run."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY, cpu_env, dvc_env, dvc_project, free_port, write_params

EPOCHS = TINY["train"]["epochs"]
BATCH = 64  # the shipped train.batch_size


def _train_examples(root: Path) -> int:
    from dlpipe import paths
    from dlpipe.data.tensors import load_split

    with contextlib.chdir(root):
        return len(load_split("classify", paths.augmented_train("classify"))[0])


def _runs(root: Path) -> list:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("dlpipe")
    return [(client, run) for run in client.search_runs([experiment.experiment_id])]


def _assert_written_once(root: Path, processes: int) -> None:
    steps = EPOCHS * math.ceil(math.ceil(_train_examples(root) / processes) / BATCH)
    summary = yaml.safe_load((root / "reports/models/lenet5/train.json").read_text())
    assert summary["steps"] == steps  # each process stepped through its share only
    assert (root / "models/lenet5/model.pt").exists()
    assert len((root / "reports/models/lenet5/history.csv").read_text().splitlines()) == 1 + EPOCHS
    ((client, run),) = _runs(root)  # exactly one run
    val_acc = client.get_metric_history(run.info.run_id, "val_acc")
    assert len(val_acc) == EPOCHS == len({m.step for m in val_acc})  # each epoch logged once
    lr = client.get_metric_history(run.info.run_id, "lr")
    assert sorted(m.step for m in lr) == list(range(steps))  # each step logged once
    assert run.info.status == "FINISHED"


@pytest.mark.slow
@pytest.mark.parametrize("preloaded", [False, True], ids=["plain", "preloaded"])
def test_dvc_repro_trains_on_two_processes_and_writes_once(tmp_path, preloaded):
    root = (tmp_path / "project").resolve()
    dvc_project(root, {"train": {"strategy": "ddp", "devices": 2}})
    command = [sys.executable, "-m", "dvc", "repro", "train@lenet5"]
    if preloaded:
        command = [sys.executable, "-m", "dlpipe.preload", *command]
    done = subprocess.run(command, cwd=root, env=dvc_env(root), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in done.stderr
    assert done.stdout.count(f"epoch {EPOCHS}/{EPOCHS} ") == 1  # one process prints
    _assert_written_once(root, processes=2)


def _node(root: Path, rank: int, port: int, log: Path) -> subprocess.Popen:
    """One node of a two-node torchrun job on 127.0.0.1, one process each."""
    env = cpu_env() | {"PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1"}  # two "nodes", one machine
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [
        str(torchrun),
        *("--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(rank)),
        *("--master-addr", "127.0.0.1", "--master-port", str(port)),
        *("-m", "dlpipe", "train", "lenet5"),
    ]
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)


def _prepared(root: Path, train: dict) -> None:
    from dlpipe.config import load_params
    from dlpipe.stages import augment, split

    write_params(root, {"train": {"strategy": "ddp", "devices": 1, "num_nodes": 2, **train}})
    with contextlib.chdir(root):
        params = load_params()
        split.run(params)
        augment.run(params)


@pytest.mark.slow
def test_torchrun_trains_across_two_nodes_and_the_first_writes_once(tmp_path):
    root = tmp_path.resolve()
    _prepared(root, {})
    port = free_port()
    nodes = [_node(root, rank, port, tmp_path / f"node{rank}.log") for rank in (0, 1)]
    for rank, node in enumerate(nodes):
        assert node.wait(timeout=600) == 0, (tmp_path / f"node{rank}.log").read_text()
    _assert_written_once(root, processes=2)


def _worker_of(node: subprocess.Popen) -> int:
    """The training process torchrun started for ``node``."""
    children = Path(f"/proc/{node.pid}/task/{node.pid}/children").read_text().split()
    (worker,) = [int(pid) for pid in children]
    return worker


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stopped"])
def test_a_lost_peer_ends_the_job_with_one_line_within_peer_timeout(tmp_path, signum):
    root = tmp_path.resolve()
    # gloo's start-up (connectFullMesh) waits peer_timeout for the other node too: 10 s timed out
    # there once on a loaded machine, before any training, so the job gets 30
    _prepared(root, {"epochs": 200, "peer_timeout": 30})
    port = free_port()
    logs = [tmp_path / f"node{rank}.log" for rank in (0, 1)]
    nodes = [_node(root, rank, port, logs[rank]) for rank in (0, 1)]
    try:
        deadline = time.monotonic() + 300
        while logs[0].read_text().count("\nepoch ") < 2:  # training, past its first epoch
            assert time.monotonic() < deadline and nodes[0].poll() is None, logs[0].read_text()
            time.sleep(0.2)
        os.kill(_worker_of(nodes[1]), signum)
        assert nodes[0].wait(timeout=120) != 0
    finally:
        for node in nodes:
            with contextlib.suppress(OSError, ValueError):  # ended already
                os.kill(_worker_of(node), signal.SIGKILL)
            node.kill()
            node.wait()
    lines = [line for line in logs[0].read_text().splitlines() if "lost a peer" in line]
    assert len(lines) == 1, logs[0].read_text()[-4000:]
    (line,) = lines
    assert line.startswith("train: process 0 of 2 lost a peer of its ddp job")
    if signum == signal.SIGSTOP:  # silent: gloo gave up after train.peer_timeout, in one of two words
        assert "Timed out waiting 30000ms" in line or "Application timeout caused pair closure" in line
    assert not (root / "models/lenet5/model.pt").exists()


def test_tune_trials_and_transfer_train_in_one_process_whatever_train_strategy_says(tmp_path):
    import mlflow

    from conftest import run_cli

    root = tmp_path.resolve()
    quick_tune = {
        "epochs": 1,
        "pruner": "none",
        "space": {"train.lr": {"type": "float", "low": 0.001, "high": 0.01}},
    }
    _prepared(root, {"num_nodes": 1, "devices": 2})
    write_params(root, {"train": {"strategy": "ddp", "devices": 2}, "tune": quick_tune})
    tuned = run_cli("tune", "lenet5", "--trials", "1", cwd=root)
    assert tuned.returncode == 0, tuned.stdout + tuned.stderr
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("dlpipe-tune")
    (trial,) = client.search_runs([experiment.experiment_id], "tags.mlflow.parentRunId != ''")
    assert (trial.data.params["train.strategy"], trial.data.params["train.devices"]) == ("auto", "1")
    transferred = run_cli("transfer", cwd=root)
    assert transferred.returncode == 0, transferred.stdout + transferred.stderr
    assert "GLOBAL_RANK" not in tuned.stderr + transferred.stderr  # no process group was formed
    assert (root / "reports/transfer/metrics.json").exists()


def _raised(first: BaseException, then: BaseException | None = None) -> BaseException:
    """``then`` raised while handling ``first``, as Lightning's clean-up after a failed step would."""
    try:
        try:
            raise first
        except BaseException:
            if then is None:
                raise
            raise then  # noqa: B904 (the implicit context is the point)
    except BaseException as exc:
        return exc


def test_a_peer_failure_is_found_along_the_exception_chain():
    from torch.distributed import DistStoreError

    from dlpipe.training.trainer import _peer_failure

    timeout = DistStoreError("wait timeout after 10000ms")  # names neither gloo nor NCCL
    assert _peer_failure(_raised(timeout)) is timeout
    assert _peer_failure(_raised(timeout, ValueError("clean-up failed"))) is timeout  # the first failure
    gloo = RuntimeError("[third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer")
    assert _peer_failure(_raised(gloo)) is gloo
    silent = RuntimeError("Application timeout caused pair closure")  # gloo's, without its name
    assert _peer_failure(_raised(silent)) is silent
    assert _peer_failure(_raised(ValueError("a bug of ours"))) is None
