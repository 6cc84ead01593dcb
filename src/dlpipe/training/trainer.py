"""The Lightning Trainer as params.yaml's ``train`` section describes it."""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from dlpipe.config import TrainParams


def silence_known_noise() -> None:
    """Lightning's tips and device banner, and warnings that do not apply here.

    The data lives in memory (no loader workers needed), the pytree
    deprecation comes from inside Lightning itself, and ClassificationTask's
    batch hook (channels-last) is meant to serve with any DataModule.
    """
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*overridden `on_after_batch_transfer` in `LightningModule`")


def build_trainer(
    params: TrainParams,
    *,
    logger: Logger | bool,
    callbacks: list[pl.Callback],
    batches_per_epoch: int,
    root_dir: Path,
    primary_monitor: str = "val_acc",
) -> pl.Trainer:
    """Accelerator, devices, strategy, precision, gradient clipping and early stopping from
    params; deterministic and quiet."""
    silence_known_noise()
    stopping = params.early_stopping
    if stopping.patience:
        mode = "min" if stopping.monitor.endswith("loss") else "max"
        callbacks = [
            *callbacks,
            EarlyStopping(
                stopping.monitor, min_delta=stopping.min_delta, patience=stopping.patience, mode=mode
            ),
        ]
    return pl.Trainer(
        max_epochs=params.epochs,
        accelerator=params.accelerator,
        devices=params.devices,
        strategy=params.strategy,
        precision=params.precision,
        logger=logger,
        callbacks=callbacks,
        deterministic=True,
        gradient_clip_val=params.gradient_clip,
        gradient_clip_algorithm="norm",
        log_every_n_steps=max(1, min(50, batches_per_epoch)),
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=sys.stdout.isatty(),
        # Lightning adds a checkpoint callback of its own unless told not to.
        enable_checkpointing=any(isinstance(cb, ModelCheckpoint) for cb in callbacks),
        default_root_dir=root_dir,
    )


def fit(trainer: pl.Trainer, task: pl.LightningModule, **kwargs) -> None:
    """``trainer.fit``, but a SIGTERM ends the process with status 143 instead of Lightning's 0.

    Lightning stops at the next step on SIGTERM and exits with status 0, which suits a
    cluster that requeues the job; DVC (or any caller) would take it for success. Whatever
    the caller checkpointed stays (train@NAME resumes from its last finished epoch).
    """
    try:
        trainer.fit(task, **kwargs)
    except SIGTERMException:
        print("stopped by SIGTERM", file=sys.stderr)
        raise SystemExit(128 + signal.SIGTERM) from None
