"""Landmarks as a LightningModule: any zoo network whose last layer outputs the K points
(x_1, y_1, ..., x_K, y_K), trained with squared error."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torch.nn import functional as F

from dlpipe.config import Params, TrainParams
from dlpipe.tasks.landmarks.points import score_sums, scores
from dlpipe.training.module import Task


class LandmarkTask(Task):
    family = "landmarks"
    metrics = ("nme", "pck")

    def __init__(
        self,
        arch: str,
        in_channels: int,
        outputs: int,
        image_size: int,
        names: list[str],
        options: dict[str, Any],
        train: dict[str, Any],
        pck_threshold: float = 0.05,
        **extra: Any,
    ):
        super().__init__(arch, in_channels, outputs, image_size, names, options, train)
        self.pck_threshold = pck_threshold

    @classmethod
    def build(
        cls, params: Params, name: str, data: Any, options: dict[str, Any], train: TrainParams
    ) -> LandmarkTask:
        channels, size, _ = data.input_shape
        return cls(
            arch=params.arch_of(name),
            in_channels=channels,
            outputs=2 * len(data.names),
            image_size=size,
            names=data.names,
            options=options,
            train=train.model_dump(),
            pck_threshold=params.landmarks.pck_threshold,
        )

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Squared error summed over the 2K coordinates, averaged over the images."""
        return F.mse_loss(outputs, targets, reduction="sum") / len(targets)

    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return score_sums(outputs, targets, self.pck_threshold)

    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        return scores(sums)


TASK = LandmarkTask
