"""train@ARCH: data/augmented + data/split/val -> models/ARCH/model.ckpt + reports/ARCH/history.csv.

Resumable: checkpoints go to ``.dlpipe/resume/ARCH`` (DVC deletes declared
outputs before a stage runs, so they cannot live there). A re-run whose
params and data match the interrupted one continues from its last epoch,
in the same MLflow run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import shutil
import sys
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger

from dlpipe import io, paths, tracking
from dlpipe.config import Params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.evaluation.plots import learning_curves
from dlpipe.tasks.classify import ClassificationTask
from dlpipe.training.callbacks import History, progress_callbacks

MONITOR = "val_acc"


def _file_digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def fingerprint(params: Params, arch: str, inputs: list[Path]) -> str:
    """Identifies a training run: a checkpoint resumes only a run with the same one."""
    described = {
        "arch": arch,
        "train": params.train.model_dump(),
        "inputs": {str(p): _file_digest(p) for p in inputs},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _resume_state(resume: Path, expected: str) -> dict | None:
    """The interrupted run's state (with the epoch it reached) if it matches ``expected``.

    Anything else (other params or data, a checkpoint cut short by the kill)
    clears the folder, and training starts over.
    """
    state_file, checkpoint = resume / "state.json", resume / "checkpoints" / "last.ckpt"
    if state_file.exists() and checkpoint.exists():
        state = io.read_json(state_file)
        if state.get("fingerprint") == expected:
            try:
                saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
            except (RuntimeError, EOFError, OSError, pickle.UnpicklingError):
                saved = None
            if saved is not None:
                return {**state, "checkpoint": str(checkpoint), "epochs_done": saved["epoch"] + 1}
    shutil.rmtree(resume, ignore_errors=True)
    return None


def _silence_known_noise() -> None:
    """Lightning's tips and device banner, and warnings that do not apply here.

    The data lives in memory (no loader workers needed), and the pytree
    deprecation comes from inside Lightning itself.
    """
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def run(params: Params, arch: str) -> None:
    _silence_known_noise()
    inputs = [paths.AUGMENTED_TRAIN, paths.split_file("val"), paths.NORMALIZATION]
    resume = paths.resume_dir(arch)
    expected = fingerprint(params, arch, inputs)
    state = _resume_state(resume, expected)

    pl.seed_everything(params.train.seed, workers=True, verbose=False)
    data = ArrayDataModule(*inputs[:2], inputs[2], params.train.batch_size, params.train.seed)
    channels, size, _ = data.input_shape
    task = ClassificationTask(
        arch=arch,
        in_channels=channels,
        num_classes=len(data.class_names),
        image_size=size,
        class_names=data.class_names,
        train=params.train.model_dump(),
    )

    if state is None:
        split_report = io.read_json(paths.SPLIT_REPORT)
        run_id = tracking.create_run(
            params.tracking,
            run_name=arch,
            tags={
                "architecture": arch,
                "dataset": split_report["source"],
                "dataset_hash": split_report["content_hash"],
                "git_commit": tracking.git_commit(),
                "dvc_stage": f"train@{arch}",
                "seed": str(params.train.seed),
            },
            logged={
                "arch": arch,
                "data": params.data.model_dump(),
                "augment": params.augment.model_dump(),
                "train": params.train.model_dump(),
            },
        )
        resume.mkdir(parents=True, exist_ok=True)
        state = {"fingerprint": expected, "run_id": run_id}
        io.write_json(resume / "state.json", state)
        checkpoint = None
    else:
        checkpoint = state["checkpoint"]
        print(f"train@{arch}: resuming from the checkpoint after epoch {state['epochs_done']}", flush=True)

    history = History(paths.report_dir(arch) / "history.csv")
    best = ModelCheckpoint(
        dirpath=resume / "checkpoints", filename="best", monitor=MONITOR, mode="max", save_last=True
    )
    logger = MLFlowLogger(
        experiment_name=params.tracking.experiment,
        tracking_uri=tracking.tracking_uri(params.tracking),
        run_id=state["run_id"],
    )
    batches = -(-len(data.datasets["train"]) // params.train.batch_size)
    trainer = pl.Trainer(
        max_epochs=params.train.epochs,
        accelerator=params.train.accelerator,
        devices=params.train.devices,
        strategy=params.train.strategy,
        precision=params.train.precision,
        logger=logger,
        callbacks=[best, history, *progress_callbacks()],
        deterministic=True,
        log_every_n_steps=min(50, batches),
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=sys.stdout.isatty(),
        default_root_dir=resume,
    )
    trainer.fit(task, datamodule=data, ckpt_path=checkpoint)

    model_dir = paths.model_dir(arch)
    model_dir.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(model_dir / "model.ckpt") as tmp:
        shutil.copyfile(best.best_model_path, tmp)
    io.write_json(tracking.run_record(arch), {"run_id": state["run_id"]})
    history.write()
    learning_curves(history.rows, paths.report_dir(arch) / "history.png", arch)
    summary = {
        "epochs": len(history.rows),
        "best_val_acc": round(float(best.best_model_score), 6),
        "parameters": sum(p.numel() for p in task.model.parameters()),
        "train_seconds": round(history.train_seconds, 2),
    }
    io.write_json(paths.report_dir(arch) / "train.json", summary)

    mlflow_client = tracking.client(params.tracking)
    for key in ("best_val_acc", "parameters", "train_seconds"):
        mlflow_client.log_metric(state["run_id"], key, summary[key])
    for name in ("history.csv", "history.png"):
        mlflow_client.log_artifact(state["run_id"], str(paths.report_dir(arch) / name), "training")
    shutil.rmtree(resume, ignore_errors=True)
    print(f"train@{arch}: best val_acc {summary['best_val_acc']:.4f} in {summary['train_seconds']:.1f}s")
