"""train@ARCH: augmented train + val split -> models/ARCH/model.pt, reports/models/ARCH/history.csv.

Resumable: checkpoints go to ``.dlpipe/resume/ARCH`` (DVC deletes declared
outputs before a stage runs, so they cannot live there). A re-run whose
params and data match the interrupted one continues from its last epoch,
in the same MLflow run.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger

from dlpipe import io, paths, tracking
from dlpipe.config import Params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.evaluation.plots import learning_curves
from dlpipe.models.checkpoint import save_model
from dlpipe.tasks.classify import ClassificationTask
from dlpipe.training.callbacks import History, progress_callbacks
from dlpipe.training.trainer import build_trainer

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


def _start_or_resume(params: Params, arch: str, resume: Path, expected: str) -> dict:
    """The state of this training run: resumed from ``resume``, or new with a new MLflow run."""
    state = _resume_state(resume, expected)
    if state is not None:
        print(f"train@{arch}: resuming from the checkpoint after epoch {state['epochs_done']}", flush=True)
        return state
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
    return {**state, "checkpoint": None}


def _publish(
    params: Params, arch: str, run_id: str, best: ModelCheckpoint, history: History, parameters: int
):
    """Save the best epoch's model, write the reports and log them to the run."""
    model_dir, report_dir = paths.model_dir(arch), paths.report_dir(arch)
    best_task = ClassificationTask.load_from_checkpoint(
        best.best_model_path, map_location="cpu", weights_only=True
    )
    save_model(model_dir / "model.pt", best_task.model, dict(best_task.hparams))
    io.write_json(tracking.run_record(arch), {"run_id": run_id})
    history.write()
    learning_curves(history.rows, report_dir / "history.png", arch)
    summary = {
        "epochs": len(history.rows),
        "best_val_acc": round(float(best.best_model_score), 6),
        "parameters": parameters,
        "train_seconds": round(history.train_seconds, 2),
    }
    io.write_json(report_dir / "train.json", summary)
    mlflow_client = tracking.client(params.tracking)
    for key in ("best_val_acc", "parameters", "train_seconds"):
        mlflow_client.log_metric(run_id, key, summary[key])
    for name in ("history.csv", "history.png"):
        mlflow_client.log_artifact(run_id, str(report_dir / name), "training")
    return summary


def run(params: Params, arch: str) -> None:
    inputs = [paths.AUGMENTED_TRAIN, paths.split_file("val"), paths.NORMALIZATION]
    resume = paths.resume_dir(arch)
    state = _start_or_resume(params, arch, resume, fingerprint(params, arch, inputs))

    pl.seed_everything(params.train.seed, workers=True, verbose=False)
    data = ArrayDataModule(*inputs, params.train.batch_size, params.train.seed)
    channels, size, _ = data.input_shape
    task = ClassificationTask(
        arch=arch,
        in_channels=channels,
        num_classes=len(data.class_names),
        image_size=size,
        class_names=data.class_names,
        train=params.train.model_dump(),
    )
    history = History(paths.report_dir(arch) / "history.csv")
    best = ModelCheckpoint(
        dirpath=resume / "checkpoints", filename="best", monitor=MONITOR, mode="max", save_last=True
    )
    logger = MLFlowLogger(
        experiment_name=params.tracking.experiment,
        tracking_uri=tracking.tracking_uri(params.tracking),
        run_id=state["run_id"],
    )
    trainer = build_trainer(
        params.train,
        logger=logger,
        callbacks=[best, history, *progress_callbacks()],
        batches_per_epoch=-(-len(data.datasets["train"]) // params.train.batch_size),
        root_dir=resume,
    )
    trainer.fit(task, datamodule=data, ckpt_path=state["checkpoint"])

    parameters = sum(p.numel() for p in task.model.parameters())
    summary = _publish(params, arch, state["run_id"], best, history, parameters)
    shutil.rmtree(resume, ignore_errors=True)
    print(f"train@{arch}: best val_acc {summary['best_val_acc']:.4f} in {summary['train_seconds']:.1f}s")
