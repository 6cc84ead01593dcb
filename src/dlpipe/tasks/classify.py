"""Image classification as a LightningModule: loss, accuracy, optimiser choice."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import Tensor, nn

from dlpipe.config import TrainParams
from dlpipe.models.registry import build_model
from dlpipe.training.optim import build_optimizer, build_schedule


class ClassificationTask(pl.LightningModule):
    """Cross-entropy training of any registered architecture.

    The hyperparameters saved in the checkpoint rebuild the model exactly,
    so evaluate and export need nothing but the checkpoint file.
    """

    def __init__(
        self,
        arch: str,
        in_channels: int,
        num_classes: int,
        image_size: int,
        class_names: list[str],
        train: dict[str, Any],
    ):
        super().__init__()
        self.save_hyperparameters()
        self.train_params = TrainParams.model_validate(train)
        self.model = build_model(arch, in_channels, num_classes, image_size)
        self.loss = nn.CrossEntropyLoss(label_smoothing=self.train_params.label_smoothing)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def _step(self, batch: tuple[Tensor, Tensor], split: str) -> Tensor:
        x, y = batch
        logits = self.model(x)
        loss = self.loss(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        on_step = split == "train"
        self.log(f"{split}_loss", loss, on_step=False, on_epoch=True, prog_bar=on_step, batch_size=len(y))
        self.log(f"{split}_acc", accuracy, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.train_params, self.model.parameters())
        schedule = build_schedule(self.train_params, optimizer, int(self.trainer.estimated_stepping_batches))
        if schedule is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
