"""Clips as a LightningModule: softmax cross-entropy over C×D×H×W inputs, accuracy."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torch.nn import functional as F

from dlpipe.config import Params, TrainParams
from dlpipe.training.module import Task


class ClipTask(Task):
    family = "clips"
    metrics = ("acc",)

    def __init__(self, *args: Any, frames: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.frames = frames

    @staticmethod
    def settings(params: Params, name: str, data: Any, train: TrainParams) -> dict[str, Any]:
        return {"frames": data.input_shape[1]}  # C×D×H×W: for the multiply-accumulates of one clip

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.hparams.in_channels, self.frames, self.hparams.image_size, self.hparams.image_size)

    @staticmethod
    def outputs_for(params: Params, names: list[str]) -> int:
        return len(names)  # one logit per class

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(outputs, targets)

    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return {"correct": (outputs.argmax(dim=1) == targets).sum().to(outputs.dtype)}

    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"acc": sums["correct"] / sums["examples"]}


TASK = ClipTask
