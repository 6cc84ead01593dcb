"""Image classification as a LightningModule: softmax cross-entropy, accuracy and the
validation weighted and cost errors, and the classification-only techniques of the
``train`` section (label smoothing, mixup, manifold mixup)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from dlpipe.config import Params, TrainParams
from dlpipe.errors import ConfigError
from dlpipe.evaluation.metrics import selection_costs
from dlpipe.training import mixup
from dlpipe.training.module import Task


def classification_loss(logits: Tensor, targets: Tensor, label_smoothing: float) -> Tensor:
    """Softmax cross-entropy; a single logit column means sigmoid + binary cross-entropy.

    ``targets`` are class indices, or rows of class probabilities (mixup's soft targets).
    """
    if logits.shape[1] == 1:
        positive = (targets[:, 1] if targets.ndim == 2 else targets).to(logits.dtype)
        target = positive * (1 - label_smoothing) + 0.5 * label_smoothing
        return F.binary_cross_entropy_with_logits(logits[:, 0], target)
    return F.cross_entropy(logits, targets, label_smoothing=label_smoothing)


def predicted_labels(logits: Tensor) -> Tensor:
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)


class ClassificationTask(Task):
    """Cross-entropy training of any registered architecture; one output per class (one logit
    for two classes: sigmoid)."""

    family = "classify"
    metrics = ("acc", "weighted_error", "cost_error")

    def __init__(
        self,
        *args: Any,
        class_weights: list[float] | None = None,
        costs: list[list[float]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        names, arch = self.hparams.names, self.hparams.arch
        self.num_classes = len(names)
        # The validation split's weighted and cost errors, the candidates for evaluate.primary_metric.
        classes = max(self.num_classes, 2)
        weights = torch.ones(classes) if class_weights is None else torch.tensor(class_weights)
        cost = 1 - torch.eye(classes) if costs is None else torch.tensor(costs)
        self.register_buffer("class_weights", weights.float(), persistent=False)
        self.register_buffer("costs", cost.float(), persistent=False)
        self.mixing_points = mixup.mixing_points(self.model)
        if self.train_params.manifold_mixup_alpha and not self.mixing_points:
            raise ConfigError(f"train.manifold_mixup_alpha is set, but {arch} has no hidden layer to mix at")

    @staticmethod
    def outputs_for(params: Params, names: list[str]) -> int:
        return len(names)  # one logit per class

    @staticmethod
    def settings(params: Params, name: str, data: Any, train: TrainParams) -> dict[str, Any]:
        """The validation computes the same weighted and cost errors as evaluate."""
        return selection_costs(params.evaluate, data.names)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return classification_loss(outputs, targets, self.train_params.label_smoothing)

    def training_loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        train = self.train_params
        if train.mixup_alpha or train.manifold_mixup_alpha:
            return self._mixed_loss_and_logits(x, y)
        return self.loss_and_outputs(x, y)

    def _mixed_loss_and_logits(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """mixup on the inputs, or manifold mixup at a random point (0: the input)."""
        train = self.train_params
        lam = mixup.sample_lambda(train.mixup_alpha or train.manifold_mixup_alpha)
        permutation = torch.randperm(len(y), device=y.device)
        targets = mixup.mixed_targets(y, permutation, lam, max(self.num_classes, 2))
        point = 0 if train.mixup_alpha else int(torch.randint(len(self.mixing_points) + 1, ()))
        if point == 0:
            return self.loss_and_outputs(mixup.mix(x, permutation, lam), targets)
        with mixup.mixing_at(self.model, self.mixing_points[point - 1], permutation, lam):
            return self.loss_and_outputs(x, targets)

    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        predicted = predicted_labels(outputs)
        weights = self.class_weights[targets]
        return {
            "correct": (predicted == targets).sum().to(outputs.dtype),
            "weighted_wrong": (weights * (predicted != targets)).sum(),
            "weight": weights.sum(),
            "cost": self.costs[targets, predicted].sum(),
        }

    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        return {
            "acc": sums["correct"] / sums["examples"],
            "weighted_error": sums["weighted_wrong"] / sums["weight"],
            "cost_error": sums["cost"] / sums["examples"],
        }


TASK = ClassificationTask
