"""Callbacks: the best epoch's checkpoint, the per-epoch history file, per-step lr and smoothed
loss for MLflow, and a plain progress line for logs."""

from __future__ import annotations

import csv
import io as text_io
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger

from dlpipe import disk


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint where an epoch that equals the best so far replaces it: of tied epochs,
    the latest is kept, where Lightning keeps the first.

    On a small validation split many epochs tie (on 40 faces, accuracy 1.0 from the third
    epoch on), and the first of them is the least trained: keeping the latest lifted three of
    four models' test accuracy on faces and lost nothing on digits or MNIST
    (benchmarks/README.md, "checkpoint_ties.py").
    """

    def check_monitor_top_k(self, trainer: pl.Trainer, current: torch.Tensor | None = None) -> bool:
        if current is None:
            return False
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        at_least_as_good = {"min": torch.le, "max": torch.ge}[self.mode]
        replaces = bool(at_least_as_good(current, self.best_k_models[self.kth_best_model_path]))
        return trainer.strategy.reduce_boolean_decision(replaces)  # every device must agree


class History(pl.Callback):
    """Collects one row per epoch and rewrites ``history.csv`` after each: the loss and the
    family's ``metrics`` on train and val, its ``val_metrics`` (validation only), the lr and the
    epoch's seconds.

    Its rows live in the checkpoint, so a resumed run continues the same file.
    """

    def __init__(self, path: Path, metrics: list[str], val_metrics: list[str] = ()):
        self.path = path
        measured = ["loss", *metrics]
        self.columns = [
            "epoch",
            *(f"{split}_{m}" for split in ("train", "val") for m in measured),
            *(f"val_{m}" for m in val_metrics),
            "lr",
            "seconds",
        ]
        self.rows: list[dict[str, float]] = []
        self._epoch_start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch + 1}
        for key in self.columns:
            if key in metrics:
                row[key] = round(float(metrics[key]), 6)
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["seconds"] = round(time.perf_counter() - self._epoch_start, 3)
        self.rows.append(row)
        if trainer.is_global_zero:  # one writer in a ddp job; every process holds the rows
            self.write()

    def write(self) -> None:
        buffer = text_io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        disk.write_text(self.path, buffer.getvalue())

    @property
    def train_seconds(self) -> float:
        return sum(row["seconds"] for row in self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


class StepMetrics(pl.Callback):
    """The lr and the smoothed training loss of every optimiser step, sent to MLflow as one
    batch an epoch (a call a step would cost more than the step on small models)."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, float, Any]] = []

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # Read before the step: the lr this step uses, under its 0-based index.
        self._step, self._lr = trainer.global_step, trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._rows.append((self._step, self._lr, pl_module.smoothed_loss.value))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        rows, self._rows = self._rows, []
        logger = trainer.logger
        if not rows or not isinstance(logger, MLFlowLogger) or not trainer.is_global_zero:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = []
        for step, lr, smoothed in rows:
            metrics.append(Metric("lr", lr, now, step))
            metrics.append(Metric("train_loss_smooth_step", float(smoothed), now, step))
        for start in range(0, len(metrics), 1000):  # MLflow's limit per batch
            logger.experiment.log_batch(logger.run_id, metrics=metrics[start : start + 1000])


class EpochLine(pl.Callback):
    """One plain line per epoch, for logs and pipes where a live bar would be noise."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        shown = " ".join(
            f"{key}={float(value):.4f}"
            for key, value in metrics.items()
            if key.startswith(("train_", "val_")) and not key.endswith("_step")
        )
        print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} {shown}", flush=True)


def progress_callbacks() -> list[pl.Callback]:
    """A rich progress bar in a terminal, one line per epoch otherwise."""
    if sys.stdout.isatty():
        from lightning.pytorch.callbacks import RichProgressBar

        return [RichProgressBar()]
    return [EpochLine()]
