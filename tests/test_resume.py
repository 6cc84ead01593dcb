"""A train stage killed with SIGKILL continues from its last checkpoint when re-run."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import cpu_env, run_cli
from dlpipe import tracking
from dlpipe.config import load_params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.stages import augment, split, train

EPOCHS = 12


def _wait_for_checkpoint(path: Path, process: subprocess.Popen, min_epoch: int, timeout: float = 300) -> int:
    """Block until ``path`` holds a checkpoint at least ``min_epoch`` epochs in; return its epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be interrupted"
        if path.exists():
            try:
                epoch = torch.load(path, map_location="cpu", weights_only=True)["epoch"] + 1
            except Exception:  # being written right now
                epoch = 0
            if epoch >= min_epoch:
                return epoch
        time.sleep(0.05)
    raise TimeoutError(path)


@pytest.mark.slow
def test_sigkilled_training_resumes_from_its_last_checkpoint(project):
    root = project({"train": {"epochs": EPOCHS}, "augment": {"copies": 0}})
    split.run(load_params())
    augment.run(load_params())

    process = subprocess.Popen(
        [sys.executable, "-m", "dlpipe", "train", "lenet5"],
        cwd=root,
        env=cpu_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = root / ".dlpipe/resume/lenet5/checkpoints/last.ckpt"
    try:
        reached = _wait_for_checkpoint(checkpoint, process, min_epoch=3)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    run_before = json.loads((root / ".dlpipe/resume/lenet5/state.json").read_text())["run_id"]
    with open(root / "reports/models/lenet5/history.csv") as handle:
        rows_before = list(csv.DictReader(handle))
    assert not (root / "models/lenet5/model.pt").exists()

    result = run_cli("train", "lenet5", cwd=root)
    assert result.returncode == 0, result.stderr
    resumed_at = int(result.stdout.split("resuming from the checkpoint after epoch ")[1].split()[0])
    assert resumed_at >= reached
    assert f"epoch {resumed_at + 1}/{EPOCHS}" in result.stdout
    assert "epoch 1/" not in result.stdout  # nothing trained twice

    with open(root / "reports/models/lenet5/history.csv") as handle:
        rows_after = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows_after] == list(range(1, EPOCHS + 1))
    assert rows_after[: len(rows_before)][:resumed_at] == rows_before[:resumed_at]
    assert json.loads((root / "models/lenet5/run.json").read_text())["run_id"] == run_before
    summary = json.loads((root / "reports/models/lenet5/train.json").read_text())
    assert summary["epochs"] == EPOCHS and summary["best_val_acc"] > 0.9
    assert not (root / ".dlpipe/resume/lenet5").exists()


class _Interrupted(Exception):
    pass


def test_changed_lr_starts_over_in_a_new_mlflow_run_instead_of_resuming(project, monkeypatch, capsys):
    root = project({"train": {"epochs": 1, "lr": 0.003}, "augment": {"copies": 0}})
    split.run(load_params())
    augment.run(load_params())

    # A run stopped after its last checkpoint and before it published: a valid resume state.
    def interrupted(*args, **kwargs):
        raise _Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(train, "_publish", interrupted)
        with pytest.raises(_Interrupted):
            train.run(load_params(), "lenet5")
    resume = root / ".dlpipe/resume/lenet5"
    first_run = json.loads((resume / "state.json").read_text())["run_id"]
    # Unchanged params would resume it (the control): the checkpoint after epoch 1 is valid.
    inputs = ArrayDataModule.inputs("classify")
    same = train._resumable(resume, train.fingerprint(load_params(), "lenet5", inputs))
    assert same is not None and same["run_id"] == first_run and same["epochs_done"] == 1
    capsys.readouterr()

    project({"train": {"epochs": 1, "lr": 0.001}, "augment": {"copies": 0}})
    train.run(load_params(), "lenet5")
    out = capsys.readouterr().out
    assert "resuming" not in out
    assert "epoch 1/1" in out  # trained again from the first epoch
    second_run = json.loads((root / "models/lenet5/run.json").read_text())["run_id"]
    assert second_run != first_run
    client = tracking.client(load_params().tracking)
    assert client.get_run(second_run).data.params["train.lr"] == "0.001"
    assert client.get_run(first_run).data.params["train.lr"] == "0.003"  # the old run is left as it was
    assert not resume.exists()


def test_a_run_resumes_only_under_its_own_familys_primary_metric(project):
    """The kept checkpoint is chosen by the model's family's primary metric: changing it makes a
    new run, changing another family's does not."""
    project()
    shipped = train.fingerprint(load_params(), "lenet5_box", [])
    project({"evaluate": {"primary_metric": "weighted_error"}})
    assert train.fingerprint(load_params(), "lenet5_box", []) == shipped
    project({"localize": {"primary_metric": "class_accuracy"}})
    assert train.fingerprint(load_params(), "lenet5_box", []) != shipped
