"""Classification with localisation as a LightningModule: any zoo network whose last layer
outputs y = [p_c, b_x, b_y, b_h, b_w, c_1 ... c_n], trained with the notes' loss."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from dlpipe.config import Params, TrainParams
from dlpipe.tasks.localize.boxes import localization_loss, score_sums, scores
from dlpipe.training.module import Task


class LocalizationTask(Task):
    family = "localize"
    metrics = ("object_acc", "class_acc", "mean_iou", "iou50")

    def __init__(
        self,
        arch: str,
        in_channels: int,
        outputs: int,
        image_size: int,
        names: list[str],
        options: dict[str, Any],
        train: dict[str, Any],
        box_weight: float = 5.0,
        **extra: Any,
    ):
        super().__init__(arch, in_channels, outputs, image_size, names, options, train)
        self.box_weight = box_weight

    @classmethod
    def build(
        cls, params: Params, name: str, data: Any, options: dict[str, Any], train: TrainParams
    ) -> LocalizationTask:
        channels, size, _ = data.input_shape
        return cls(
            arch=params.arch_of(name),
            in_channels=channels,
            outputs=5 + len(data.names),
            image_size=size,
            names=data.names,
            options=options,
            train=train.model_dump(),
            box_weight=params.localize.box_weight,
        )

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return localization_loss(outputs, targets, self.box_weight)

    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return score_sums(outputs, targets)

    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        return scores(sums, sums["examples"])


TASK = LocalizationTask
