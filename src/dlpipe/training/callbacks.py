"""Callbacks: the per-epoch history file and a plain progress line for logs."""

from __future__ import annotations

import csv
import io as text_io
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from dlpipe import io

HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


class History(pl.Callback):
    """Collects one row per epoch and rewrites ``history.csv`` after each.

    Its rows live in the checkpoint, so a resumed run continues the same file.
    """

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict[str, float]] = []
        self._epoch_start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch + 1}
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            if key in metrics:
                row[key] = round(float(metrics[key]), 6)
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["seconds"] = round(time.perf_counter() - self._epoch_start, 3)
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        buffer = text_io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        io.write_text(self.path, buffer.getvalue())

    @property
    def train_seconds(self) -> float:
        return sum(row["seconds"] for row in self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


class EpochLine(pl.Callback):
    """One plain line per epoch, for logs and pipes where a live bar would be noise."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        shown = " ".join(
            f"{key}={float(metrics[key]):.4f}"
            for key in ("train_loss", "train_acc", "val_loss", "val_acc")
            if key in metrics
        )
        print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} {shown}", flush=True)


def progress_callbacks() -> list[pl.Callback]:
    """A rich progress bar in a terminal, one line per epoch otherwise."""
    if sys.stdout.isatty():
        from lightning.pytorch.callbacks import RichProgressBar

        return [RichProgressBar()]
    return [EpochLine()]
