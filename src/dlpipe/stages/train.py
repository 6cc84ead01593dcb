"""train@NAME: the family's augmented train + val split -> models/NAME/model.pt,
reports/models/NAME/{train.json,history.csv,history.png}.

NAME is a model of a family's ``models``; its architecture, builder options and
train overrides come from that model, its loss and metrics from its family.

Resumable: checkpoints go to ``.dlpipe/resume/NAME`` (DVC deletes declared
outputs before a stage runs, so they cannot live there). A re-run whose
params and data match the interrupted one continues from its last epoch,
in the same MLflow run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from lightning.pytorch.loggers import MLFlowLogger

from dlpipe import disk, paths, tracking
from dlpipe.config import Params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.errors import DataError
from dlpipe.evaluation.plots import learning_curves
from dlpipe.models.checkpoint import read_weights, save_model
from dlpipe.models.complexity import multiply_accumulates
from dlpipe.tasks import FAMILIES
from dlpipe.training.callbacks import BestCheckpoint, History, StepMetrics, progress_callbacks
from dlpipe.training.module import Task
from dlpipe.training.trainer import build_task, build_trainer, fit


def _file_digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def fingerprint(params: Params, name: str, inputs: list[Path]) -> str:
    """Identifies a training run: a checkpoint resumes only a run with the same one."""
    described = {
        "name": name,
        "model": params.model_settings(name).model_dump(),
        "train": params.train_for(name).model_dump(),
        "selection": {  # what picks the kept checkpoint: the family's primary metric and its weights
            "primary_metric": params.primary_metric(params.family_of(name)),
            **params.evaluate.model_dump(include={"class_weights", "cost_matrix"}),
        },
        "inputs": {str(p): _file_digest(p) for p in inputs},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _resumable(resume: Path, expected: str) -> dict | None:
    """The interrupted run's state (with the epoch it reached) if it matches ``expected``: the
    same params and data, and a checkpoint that was not cut short by the kill. Only reads."""
    state_file, checkpoint = resume / "state.json", resume / "checkpoints" / "last.ckpt"
    if state_file.exists() and checkpoint.exists():
        try:
            state = disk.read_json(state_file)
            saved = read_weights(checkpoint) if state.get("fingerprint") == expected else None
        except (RuntimeError, EOFError, OSError, ValueError, DataError):  # cut short, or not only weights
            saved = None
        if saved is not None:
            return {**state, "checkpoint": str(checkpoint), "epochs_done": saved["epoch"] + 1}
    return None


def _start_or_resume(params: Params, name: str, resume: Path, expected: str) -> dict:
    """The state of this training run: resumed from ``resume``, or new with a new MLflow run
    (anything else in ``resume`` is cleared, and training starts over)."""
    state = _resumable(resume, expected)
    if state is not None:
        print(f"train@{name}: resuming from the checkpoint after epoch {state['epochs_done']}", flush=True)
        return state
    shutil.rmtree(resume, ignore_errors=True)
    family = params.family_of(name)
    train = params.train_for(name)
    run_id = tracking.create_run(
        params.tracking,
        run_name=name,
        tags={
            "architecture": params.arch_of(name),
            "model": name,
            "family": family,
            "seed": str(train.seed),
            **tracking.source_tags(f"dvc repro {FAMILIES[family].dvc_stage('train', name)}"),
        },
        logged={
            "arch": params.arch_of(name),
            "options": params.model_settings(name).options,
            "data": params.data_of(family).model_dump(),
            "augment": params.augment_of(family).model_dump(),
            "train": train.model_dump(),
        },
    )
    tracking.log_split(params.tracking, run_id, family)
    resume.mkdir(parents=True, exist_ok=True)
    state = {"fingerprint": expected, "run_id": run_id}
    disk.write_json(resume / "state.json", state)
    return {**state, "checkpoint": None}


def _best_task(family: str, checkpoint_path: str) -> tuple[Task, int]:
    """The task as it was at its best epoch, rebuilt from the checkpoint's hyperparameters, and
    that epoch (counted from 1, as history.csv counts).

    Not ``load_from_checkpoint``: its guard against TorchScript walks the call stack with
    source lookups, about a second in a process that has imported the whole stack.
    """
    checkpoint = read_weights(Path(checkpoint_path))
    best_task = FAMILIES[family].part("task").TASK(**checkpoint["hyper_parameters"])
    best_task.load_state_dict(checkpoint["state_dict"])
    return best_task, checkpoint["epoch"] + 1


def _publish(
    params: Params,
    name: str,
    run_id: str,
    best: BestCheckpoint,
    history: History,
    task: Task,
    fit_seconds: float,
) -> dict:
    """Save the best epoch's model, write the reports and log them to the run."""
    report_dir = paths.report_dir(name)
    family = params.family_of(name)
    best_task, best_epoch = _best_task(family, best.best_model_path)
    save_model(paths.model_file(name), best_task.model, best_task.spec)
    disk.write_json(tracking.run_record(name), {"run_id": run_id})
    history.write()
    monitor, _ = params.monitor(family)
    learning_curves(history.rows, report_dir / paths.HISTORY_PNG, name, monitor.removeprefix("val_"))
    summary = {
        "architecture": params.arch_of(name),
        "family": family,
        "epochs": len(history.rows),
        "steps": task.trainer.global_step,  # optimiser steps, whether set as epochs or as steps
        "monitor": monitor,
        f"best_{monitor}": round(float(best.best_model_score), 6),
        "best_epoch": best_epoch,  # of epochs tied on the monitor, the latest
        "parameters": sum(p.numel() for p in best_task.model.parameters()),
        "trainable_parameters": sum(p.numel() for p in task.model.parameters() if p.requires_grad),
        "macs_per_image": multiply_accumulates(best_task.model.eval(), task.input_shape),
        "train_seconds": round(history.train_seconds, 2),  # the epochs, validation included
        # Lightning's whole `fit` in this process: the epochs, and its setup, checkpoints and
        # teardown (a resumed run counts only its last process's)
        "fit_seconds": round(fit_seconds, 2),
    }
    disk.write_json(report_dir / paths.TRAIN_SUMMARY, summary)
    logged = (f"best_{monitor}", "parameters", "macs_per_image", "train_seconds", "fit_seconds")
    tracking.log_metrics(params.tracking, run_id, {key: summary[key] for key in logged})
    mlflow_client = tracking.client(params.tracking)
    for file in (paths.HISTORY_CSV, paths.HISTORY_PNG):
        mlflow_client.log_artifact(run_id, str(report_dir / file), "training")
    return summary


def run(params: Params, name: str) -> None:
    """Train model ``name``. In a ddp job every process runs this; the first (global rank 0)
    alone starts or resumes the MLflow run and writes the model and the reports."""
    train, family = params.train_for(name), params.family_of(name)
    resume = paths.resume_dir(name)
    data, task = build_task(params, name)
    history = History(paths.report_dir(name) / paths.HISTORY_CSV, list(task.metrics), list(task.val_metrics))
    monitor, mode = params.monitor(family)
    best = BestCheckpoint(
        dirpath=resume / "checkpoints", filename="best", monitor=monitor, mode=mode, save_last=True
    )
    trainer = build_trainer(
        train,
        logger=False,  # rank 0's MLflow logger is set below, once its run is known
        callbacks=[best, history, StepMetrics(), *progress_callbacks()],
        train_examples=len(data.datasets["train"]),
        root_dir=resume,
        primary_monitor=monitor,
    )
    expected = fingerprint(params, name, ArrayDataModule.inputs(family))
    if trainer.is_global_zero:
        state = _start_or_resume(params, name, resume, expected)
        trainer.loggers = [
            MLFlowLogger(
                experiment_name=params.tracking.experiment,
                tracking_uri=tracking.tracking_uri(params.tracking),
                run_id=state["run_id"],
            )
        ]
    else:  # resumes where rank 0 does: the same files, read the same way
        state = _resumable(resume, expected) or {"checkpoint": None}
    started = time.perf_counter()
    fit(trainer, task, datamodule=data, ckpt_path=state["checkpoint"])
    fit_seconds = time.perf_counter() - started
    if not trainer.is_global_zero:
        return

    summary = _publish(params, name, state["run_id"], best, history, task, fit_seconds)
    shutil.rmtree(resume, ignore_errors=True)
    print(f"train@{name}: best {monitor} {summary[f'best_{monitor}']:.4f} in {summary['train_seconds']:.1f}s")
