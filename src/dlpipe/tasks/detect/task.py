"""Object detection as a LightningModule, for each detector of the family: YOLO (models/yolo.py)
with anchors chosen by k-means on the training boxes and trained with YOLO's loss, the
sliding-window classifier (models/sliding_window.py) trained on crops, and the two-stage
Faster R-CNN (models/faster_rcnn.py) trained with torchvision's losses; the checkpoint of
each is chosen on validation mAP@0.5."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dlpipe.config import Params, TrainParams
from dlpipe.errors import ConfigError
from dlpipe.tasks.detect import two_stage, windows
from dlpipe.tasks.detect.anchors import kmeans_anchors
from dlpipe.tasks.detect.detectors import detections
from dlpipe.tasks.detect.scores import counted, mean_average_precision
from dlpipe.tasks.detect.yolo import yolo_loss
from dlpipe.training.module import Task


class DetectionTask(Task):
    family = "detect"
    metrics = ("map50",)

    def __init__(
        self,
        *args: Any,
        box_weight: float,
        no_object_weight: float,
        score_threshold: float,
        iou_threshold: float,
        anchors: list[list[float]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.arch = self.hparams["arch"]
        if anchors is not None:
            self.model.anchor_sizes.copy_(torch.tensor(anchors))
        self.box_weight, self.no_object_weight = box_weight, no_object_weight
        self.score_threshold, self.iou_threshold = score_threshold, iou_threshold

    @classmethod
    def build(cls, params: Params, name: str, data: Any, options: dict[str, Any], train: TrainParams) -> Task:
        """YOLO with ``detect.anchors`` anchors per cell (a count the network is built with)."""
        if params.arch_of(name) == "yolo":
            if "anchors" in options:
                raise ConfigError(f"{params.model_key(name)}.options.anchors: set detect.anchors instead")
            options = {**options, "anchors": params.detect.anchors}
        return super().build(params, name, data, options, train)

    @staticmethod
    def outputs_for(params: Params, names: list[str]) -> int:
        return len(names)  # the classes; each detector sizes its output itself

    @staticmethod
    def settings(params: Params, name: str, data: Any, train: TrainParams) -> dict[str, Any]:
        """The loss's and NMS's settings, and YOLO's anchor sizes: k-means on the training boxes."""
        detect = params.detect
        found = {
            "box_weight": detect.box_weight,
            "no_object_weight": detect.no_object_weight,
            "score_threshold": detect.score_threshold,
            "iou_threshold": detect.iou_threshold,
        }
        if params.arch_of(name) == "yolo":
            objects = data.datasets["train"].y.reshape(-1, 5)
            anchors, fit = kmeans_anchors(
                objects[objects[:, 0] >= 0, 3:5].numpy(), detect.anchors, seed=train.seed
            )
            print(f"anchors (w, h) {anchors.round(3).tolist()}: mean IoU {fit:.3f} with the training boxes")
            found["anchors"] = anchors.tolist()
        return found

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.arch == "sliding_window":
            return windows.loss(outputs, targets, self.model.classes)
        return yolo_loss(outputs, targets, self.model.anchor_sizes, self.box_weight, self.no_object_weight)

    def training_loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """The sliding-window classifier learns from crops of the scenes, not from whole scenes;
        the two-stage detector from its sampled anchors and proposals (no detections come out)."""
        if self.arch == "sliding_window":
            return windows.crop_loss(self.model, x, y)
        if self.arch == "faster_rcnn":
            return two_stage.loss(self.model, x, y), x.new_empty(0)
        return super().training_loss(x, y)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        """The two-stage detector's loss needs the images, not its detections."""
        if self.arch != "faster_rcnn":
            return super().validation_step(batch, batch_idx)
        x, y = batch
        self._accumulate("val", two_stage.held_loss(self.model, x, y), self.model(x), y)
        return None

    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Validation batches only: NMS on every training step would cost more than the step."""
        if self.training:
            return {}
        found = detections(self.arch, outputs, self.model.classes, self.score_threshold, self.iou_threshold)
        return counted(found, targets, self.model.classes)

    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        if "tp" not in sums:
            return {}
        return {"map50": mean_average_precision(sums["tp"], sums["fp"], sums["truths"])}


TASK = DetectionTask
