"""Classification with localisation as a LightningModule: any zoo network whose last layer
outputs y = [p_c, b_x, b_y, b_h, b_w, c_1 ... c_n], trained with the notes' loss."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from dlpipe.config import Params, TrainParams
from dlpipe.models.init import zero_last_layer
from dlpipe.tasks.localize.boxes import localization_loss, score_sums, scores
from dlpipe.training.module import Task


class LocalizationTask(Task):
    family = "localize"
    metrics = ("object_acc", "class_acc", "mean_iou", "iou50")

    def __init__(self, *args: Any, box_weight: float = 5.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.box_weight = box_weight
        # The head starts undecided: p_c = 0.5, the box centred at half the image's size, classes
        # uniform (He-initialised outputs of order 1 saturate the box's sigmoid).
        zero_last_layer(self.model, bias=0.0)

    @staticmethod
    def outputs_for(params: Params, names: list[str]) -> int:
        return 5 + len(names)  # p_c, the box, one logit per class

    @staticmethod
    def settings(params: Params, name: str, data: Any, train: TrainParams) -> dict[str, Any]:
        return {"box_weight": params.localize.box_weight}

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return localization_loss(outputs, targets, self.box_weight)

    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return score_sums(outputs, targets)

    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        return scores(sums, sums["examples"])


TASK = LocalizationTask
