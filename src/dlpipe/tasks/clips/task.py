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

    @classmethod
    def build(cls, params: Params, name: str, data: Any, options: dict[str, Any], train: TrainParams) -> Task:
        channels, frames, size, _ = data.input_shape
        return cls(
            arch=params.arch_of(name),
            in_channels=channels,
            outputs=cls.outputs_for(params, data.names),
            image_size=size,
            names=data.names,
            options=options,
            train=train.model_dump(),
            frames=frames,
        )

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
