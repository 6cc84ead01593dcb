"""Image classification as a LightningModule: loss, accuracy, optimiser choice, and the
training-time techniques of the ``train`` section (mixup, manifold mixup, explicit L2,
keep_prob, a bias-corrected smoothed loss)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.nn import functional as F

from dlpipe.config import EvaluateParams, TrainParams
from dlpipe.errors import ConfigError
from dlpipe.evaluation.metrics import selection_costs
from dlpipe.models.registry import build_model
from dlpipe.training import mixup
from dlpipe.training.optim import build_optimizer, build_schedule
from dlpipe.training.regularization import l2_penalty, set_keep_prob
from dlpipe.training.smoothing import BiasCorrectedAverage


def classification_loss(logits: Tensor, targets: Tensor, label_smoothing: float) -> Tensor:
    """Softmax cross-entropy; a single logit column means sigmoid + binary cross-entropy.

    ``targets`` are class indices, or rows of class probabilities (mixup's soft targets).
    """
    if logits.shape[1] == 1:
        positive = targets[:, 1] if targets.ndim == 2 else targets.to(logits.dtype)
        target = positive * (1 - label_smoothing) + 0.5 * label_smoothing
        return F.binary_cross_entropy_with_logits(logits[:, 0], target)
    return F.cross_entropy(logits, targets, label_smoothing=label_smoothing)


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
        class_weights: list[float] | None = None,
        costs: list[list[float]] | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.train_params = TrainParams.model_validate(train)
        self.model = build_model(arch, in_channels, num_classes, image_size, options)
        self.num_classes = num_classes
        self.frozen_blocks: list[str] = []
        self._sums: dict[str, Tensor | None] = {}
        self.smoothed_loss = BiasCorrectedAverage(self.train_params.loss_smoothing)
        # The validation split's weighted and cost errors, the candidates for evaluate.primary_metric.
        weights = torch.ones(max(num_classes, 2)) if class_weights is None else torch.tensor(class_weights)
        cost = 1 - torch.eye(max(num_classes, 2)) if costs is None else torch.tensor(costs)
        self.register_buffer("class_weights", weights.float(), persistent=False)
        self.register_buffer("costs", cost.float(), persistent=False)
        self._val_labels: list[Tensor] = []
        if self.train_params.keep_prob is not None and not set_keep_prob(
            self.model, self.train_params.keep_prob
        ):
            raise ConfigError(f"params.yaml: train.keep_prob is set, but {arch} has no dropout layer")
        self.mixing_points = mixup.mixing_points(self.model)
        if self.train_params.manifold_mixup_alpha and not self.mixing_points:
            raise ConfigError(
                f"params.yaml: train.manifold_mixup_alpha is set, but {arch} has no hidden layer to mix at"
            )

    @classmethod
    def for_data(
        cls, arch: str, data: Any, options: dict[str, Any], train: TrainParams, evaluate: EvaluateParams
    ) -> ClassificationTask:
        """A task sized for ``data`` (an ArrayDataModule: channels, image size, classes) whose
        validation computes the same weighted and cost errors as evaluate."""
        channels, size, _ = data.input_shape
        return cls(
            arch=arch,
            in_channels=channels,
            num_classes=len(data.class_names),
            image_size=size,
            class_names=data.class_names,
            options=options,
            train=train.model_dump(),
            **selection_costs(evaluate, data.class_names),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    @property
    def _channels_last(self) -> bool:
        return self.train_params.memory_format == "channels_last"

    def setup(self, stage: str) -> None:
        """Convolution weights in channels-last (NHWC) layout, set before the optimiser sees them:
        a training step of ResNets, VGG, Inception and NiN takes 0.7-0.9x the time on the CPU
        (benchmarks/memory_format.py), and tensor cores prefer it too. Values do not change."""
        if self._channels_last:
            self.model.to(memory_format=torch.channels_last)

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> Any:
        x, y = batch
        if self._channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _loss_and_logits(self, x: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        outputs = self.model(x)
        smoothing = self.train_params.label_smoothing
        if isinstance(outputs, tuple):
            logits, *aux = outputs
            loss = classification_loss(logits, targets, smoothing)
            for extra in aux:
                if extra is not None:
                    loss = loss + self.train_params.aux_loss_weight * classification_loss(
                        extra, targets, smoothing
                    )
            return loss, logits
        return classification_loss(outputs, targets, smoothing), outputs

    def _mixed_loss_and_logits(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """mixup on the inputs, or manifold mixup at a random point (0: the input)."""
        train = self.train_params
        lam = mixup.sample_lambda(train.mixup_alpha or train.manifold_mixup_alpha)
        permutation = torch.randperm(len(y), device=y.device)
        targets = mixup.mixed_targets(y, permutation, lam, max(self.num_classes, 2))
        point = 0 if train.mixup_alpha else int(torch.randint(len(self.mixing_points) + 1, ()))
        if point == 0:
            return self._loss_and_logits(mixup.mix(x, permutation, lam), targets)
        with mixup.mixing_at(self.model, self.mixing_points[point - 1], permutation, lam):
            return self._loss_and_logits(x, targets)

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
        if split == "train" and self.smoothed_loss.steps:
            self.log("train_loss_smooth", self.smoothed_loss.value, prog_bar=True)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        train = self.train_params
        if train.mixup_alpha or train.manifold_mixup_alpha:
            loss, logits = self._mixed_loss_and_logits(x, y)
        else:
            loss, logits = self._loss_and_logits(x, y)
        if train.l2_penalty:
            loss = loss + l2_penalty(self.model, train.l2_penalty, len(y))
        self._accumulate("train", loss, logits, y)
        self.smoothed_loss.update(loss)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self._accumulate("val", classification_loss(logits, y, self.train_params.label_smoothing), logits, y)
        self._val_labels.append(torch.stack([y, predicted_labels(logits)]))

    def _log_validation_costs(self) -> None:
        if not self._val_labels:
            return
        y, predicted = torch.cat(self._val_labels, dim=1)
        self._val_labels = []
        weights = self.class_weights[y]
        self.log("val_weighted_error", (weights * (predicted != y)).sum() / weights.sum())
        self.log("val_cost_error", self.costs[y, predicted].mean())

    def on_validation_epoch_end(self) -> None:
        # Lightning's per-step self.log costs milliseconds a call: 40% of a LeNet-5 step on two
        # cores (benchmarks/throughput.py). So batches are summed in tensors and logged once an
        # epoch; the training sums with the validation ones, which run after the epoch's last batch.
        self._log_epoch("train")
        self._log_epoch("val")
        self._log_validation_costs()

    def on_train_epoch_start(self) -> None:
        self._sums = {}
        # Frozen blocks keep their batch-norm statistics too, not only their weights.
        for name in self.frozen_blocks:
            getattr(self.model, name).eval()

    def configure_optimizers(self) -> Any:
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = build_optimizer(self.train_params, trainable)
        total_steps = int(self.trainer.estimated_stepping_batches)
        steps_per_epoch = max(1, total_steps // max(1, self.trainer.max_epochs))
        schedule = build_schedule(self.train_params, optimizer, total_steps, steps_per_epoch)
        if schedule is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
