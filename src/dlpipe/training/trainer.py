"""The Lightning Trainer as params.yaml's ``train`` section describes it."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger

from dlpipe.config import TrainParams


def silence_known_noise() -> None:
    """Lightning's tips and device banner, and warnings that do not apply here.

    The data lives in memory (no loader workers needed), and the pytree
    deprecation comes from inside Lightning itself.
    """
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


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
