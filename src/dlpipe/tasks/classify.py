"""Image classification as a LightningModule: loss, accuracy, optimiser choice."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.nn import functional as F

from dlpipe.config import TrainParams
from dlpipe.models.registry import build_model
from dlpipe.training.optim import build_optimizer, build_schedule


def classification_loss(logits: Tensor, y: Tensor, label_smoothing: float) -> Tensor:
    """Softmax cross-entropy; a single logit column means sigmoid + binary cross-entropy."""
    if logits.shape[1] == 1:
        target = y.float() * (1 - label_smoothing) + 0.5 * label_smoothing
        return F.binary_cross_entropy_with_logits(logits[:, 0], target)
    return F.cross_entropy(logits, y, label_smoothing=label_smoothing)


def predicted_labels(logits: Tensor) -> Tensor:
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)


class ClassificationTask(pl.LightningModule):
    """Cross-entropy training of any registered architecture.

    Models with auxiliary classifiers (Inception) return (logits, *aux) in
    training; their losses are added with weight ``train.aux_loss_weight``.
    The hyperparameters saved in the checkpoint rebuild the model exactly.
    """

    def __init__(
        self,
        arch: str,
        in_channels: int,
        num_classes: int,
        image_size: int,
        class_names: list[str],
        options: dict[str, Any],
        train: dict[str, Any],
    ):
        super().__init__()
        self.save_hyperparameters()
        self.train_params = TrainParams.model_validate(train)
        self.model = build_model(arch, in_channels, num_classes, image_size, options)
        self.frozen_blocks: list[str] = []
        self._sums: dict[str, Tensor | None] = {}

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def _loss_and_logits(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        outputs = self.model(x)
        smoothing = self.train_params.label_smoothing
        if isinstance(outputs, tuple):
            logits, *aux = outputs
            loss = classification_loss(logits, y, smoothing)
            for extra in aux:
                if extra is not None:
                    loss = loss + self.train_params.aux_loss_weight * classification_loss(extra, y, smoothing)
            return loss, logits
        return classification_loss(outputs, y, smoothing), outputs

    def _accumulate(self, split: str, loss: Tensor, logits: Tensor, y: Tensor) -> None:
        """Add a batch to the epoch's running sums (loss × examples, correct, examples)."""
        batch = torch.stack(
            [
                loss.detach() * len(y),
                (predicted_labels(logits) == y).sum().to(loss.dtype),
                loss.new_tensor(len(y)),
            ]
        )
        self._sums[split] = batch if self._sums.get(split) is None else self._sums[split] + batch

    def _log_epoch(self, split: str) -> None:
        sums = self._sums.pop(split, None)
        if sums is not None:
            self.log(f"{split}_loss", sums[0] / sums[2])
            self.log(f"{split}_acc", sums[1] / sums[2], prog_bar=True)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss, logits = self._loss_and_logits(x, y)
        self._accumulate("train", loss, logits, y)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self._accumulate("val", classification_loss(logits, y, self.train_params.label_smoothing), logits, y)

    def on_validation_epoch_end(self) -> None:
        # Lightning's per-step self.log costs milliseconds a call: 40% of a LeNet-5 step on two
        # cores (benchmarks/throughput.py). So batches are summed in tensors and logged once an
        # epoch; the training sums with the validation ones, which run after the epoch's last batch.
        self._log_epoch("train")
        self._log_epoch("val")

    def on_train_epoch_start(self) -> None:
        self._sums = {}
        # Frozen blocks keep their batch-norm statistics too, not only their weights.
        for name in self.frozen_blocks:
            getattr(self.model, name).eval()

    def configure_optimizers(self) -> Any:
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = build_optimizer(self.train_params, trainable)
        schedule = build_schedule(self.train_params, optimizer, int(self.trainer.estimated_stepping_batches))
        if schedule is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
