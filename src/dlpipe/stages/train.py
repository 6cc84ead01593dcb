"""train@NAME: augmented train + val split -> models/NAME/model.pt, reports/models/NAME/history.csv.

NAME is an entry of ``models:``; its architecture, builder options and train
overrides come from that entry.

Resumable: checkpoints go to ``.dlpipe/resume/NAME`` (DVC deletes declared
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
from dlpipe.errors import ConfigError
from dlpipe.evaluation.plots import learning_curves
from dlpipe.models.checkpoint import save_model
from dlpipe.models.complexity import multiply_accumulates
from dlpipe.models.registry import check_options
from dlpipe.tasks.classify import ClassificationTask
from dlpipe.training import transfer
from dlpipe.training.callbacks import History, StepMetrics, progress_callbacks
from dlpipe.training.trainer import build_trainer, fit


def _file_digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def fingerprint(params: Params, name: str, inputs: list[Path]) -> str:
    """Identifies a training run: a checkpoint resumes only a run with the same one."""
    described = {
        "name": name,
        "model": params.models[name].model_dump(),
        "train": params.train_for(name).model_dump(),
        "selection": params.evaluate.model_dump(include={"primary_metric", "class_weights", "cost_matrix"}),
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


def _start_or_resume(params: Params, name: str, resume: Path, expected: str) -> dict:
    """The state of this training run: resumed from ``resume``, or new with a new MLflow run."""
    state = _resume_state(resume, expected)
    if state is not None:
        print(f"train@{name}: resuming from the checkpoint after epoch {state['epochs_done']}", flush=True)
        return state
    split_report = io.read_json(paths.SPLIT_REPORT)
    train = params.train_for(name)
    run_id = tracking.create_run(
        params.tracking,
        run_name=name,
        tags={
            "architecture": params.arch_of(name),
            "model": name,
            "dataset": split_report["source"],
            "dataset_hash": split_report["content_hash"],
            "git_commit": tracking.git_commit(),
            "dvc_stage": f"train@{name}",
            "seed": str(train.seed),
        },
        logged={
            "arch": params.arch_of(name),
            "options": params.models[name].options,
            "data": params.data.model_dump(),
            "augment": params.augment.model_dump(),
            "train": train.model_dump(),
        },
    )
    resume.mkdir(parents=True, exist_ok=True)
    state = {"fingerprint": expected, "run_id": run_id}
    io.write_json(resume / "state.json", state)
    return {**state, "checkpoint": None}


def _build_task(params: Params, name: str, data: ArrayDataModule) -> ClassificationTask:
    """The task with its model built, started from ``init_from`` and frozen as asked."""
    train = params.train_for(name)
    arch, options = params.arch_of(name), params.models[name].options
    check_options(arch, options, f"models.{name}.options")
    try:
        task = ClassificationTask.for_data(arch, data, options, train, params.evaluate)
    except (ValueError, TypeError) as exc:  # a builder refusing an option's value
        raise ConfigError(f"params.yaml: models.{name}.options: {exc}") from None
    if train.init_from:
        fresh = transfer.load_matching(task.model, transfer.initial_state(train.init_from))
        print(f"train@{name}: started from {train.init_from}; newly initialised: {fresh or 'nothing'}")
    task.frozen_blocks = transfer.freeze(task.model, train.freeze)
    if task.frozen_blocks:
        print(f"train@{name}: frozen blocks {', '.join(task.frozen_blocks)}")
    return task


def _best_task(checkpoint_path: str) -> ClassificationTask:
    """The task as it was at its best epoch, rebuilt from the checkpoint's hyperparameters.

    Not ``load_from_checkpoint``: its guard against TorchScript walks the call stack with
    source lookups, about a second in a process that has imported the whole stack.
    """
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    best_task = ClassificationTask(**checkpoint["hyper_parameters"])
    best_task.load_state_dict(checkpoint["state_dict"])
    return best_task


def _publish(
    params: Params, name: str, run_id: str, best: ModelCheckpoint, history: History, task: ClassificationTask
) -> dict:
    """Save the best epoch's model, write the reports and log them to the run."""
    model_dir, report_dir = paths.model_dir(name), paths.report_dir(name)
    best_task = _best_task(best.best_model_path)
    save_model(model_dir / "model.pt", best_task.model, dict(best_task.hparams))
    io.write_json(tracking.run_record(name), {"run_id": run_id})
    history.write()
    learning_curves(history.rows, report_dir / "history.png", name)
    channels, size = task.hparams.in_channels, task.hparams.image_size
    monitor, _ = params.evaluate.monitor
    summary = {
        "architecture": params.arch_of(name),
        "epochs": len(history.rows),
        "monitor": monitor,
        f"best_{monitor}": round(float(best.best_model_score), 6),
        "parameters": sum(p.numel() for p in best_task.model.parameters()),
        "trainable_parameters": sum(p.numel() for p in task.model.parameters() if p.requires_grad),
        "macs_per_image": multiply_accumulates(best_task.model.eval(), (channels, size, size)),
        "train_seconds": round(history.train_seconds, 2),
    }
    io.write_json(report_dir / "train.json", summary)
    logged = (f"best_{monitor}", "parameters", "macs_per_image", "train_seconds")
    tracking.log_metrics(params.tracking, run_id, {key: summary[key] for key in logged})
    mlflow_client = tracking.client(params.tracking)
    for file in ("history.csv", "history.png"):
        mlflow_client.log_artifact(run_id, str(report_dir / file), "training")
    return summary


def run(params: Params, name: str) -> None:
    train = params.train_for(name)
    inputs = [paths.AUGMENTED_TRAIN, paths.split_file("val"), paths.NORMALIZATION]
    resume = paths.resume_dir(name)
    pl.seed_everything(train.seed, workers=True, verbose=False)
    data = ArrayDataModule.from_files(*inputs, train.batch_size, train.seed)
    task = _build_task(params, name, data)
    state = _start_or_resume(params, name, resume, fingerprint(params, name, inputs))

    history = History(paths.report_dir(name) / "history.csv")
    monitor, mode = params.evaluate.monitor
    best = ModelCheckpoint(
        dirpath=resume / "checkpoints", filename="best", monitor=monitor, mode=mode, save_last=True
    )
    logger = MLFlowLogger(
        experiment_name=params.tracking.experiment,
        tracking_uri=tracking.tracking_uri(params.tracking),
        run_id=state["run_id"],
    )
    trainer = build_trainer(
        train,
        logger=logger,
        callbacks=[best, history, StepMetrics(), *progress_callbacks()],
        batches_per_epoch=-(-len(data.datasets["train"]) // train.batch_size),
        root_dir=resume,
        primary_monitor=monitor,
    )
    fit(trainer, task, datamodule=data, ckpt_path=state["checkpoint"])

    summary = _publish(params, name, state["run_id"], best, history, task)
    shutil.rmtree(resume, ignore_errors=True)
    print(f"train@{name}: best {monitor} {summary[f'best_{monitor}']:.4f} in {summary['train_seconds']:.1f}s")
