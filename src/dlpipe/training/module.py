"""What every family's LightningModule shares: the network, the optimiser and its schedule,
channels-last, frozen blocks, keep_prob, explicit L2, the smoothed loss and the epoch sums.

A family subclasses :class:`Task` with its loss (``loss``), its per-batch sums
(``batch_sums``) and how the sums become the epoch's metrics (``epoch_metrics``).
The hyperparameters saved in the checkpoint rebuild the network exactly.
"""

from __future__ import annotations

import abc
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from dlpipe.config import Params, TrainParams
from dlpipe.errors import ConfigError
from dlpipe.models.checkpoint import SPEC_KEYS
from dlpipe.models.registry import build_model
from dlpipe.training.optim import build_optimizer, build_schedule
from dlpipe.training.regularization import l2_penalty, set_keep_prob
from dlpipe.training.smoothing import BiasCorrectedAverage


class Task(pl.LightningModule, abc.ABC):
    family = ""
    metrics: tuple[str, ...] = ()  # the keys of epoch_metrics, logged as train_* and val_*
    val_metrics: tuple[str, ...] = ()  # metrics of the whole validation split only, logged as val_*

    def __init__(
        self,
        arch: str,
        in_channels: int,
        outputs: int,
        image_size: int,
        names: list[str],
        options: dict[str, Any],
        train: dict[str, Any],
        **extra: Any,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.hparams["family"] = self.family
        self.train_params = TrainParams.model_validate(train)
        self.model = build_model(arch, in_channels, outputs, image_size, options)
        self.frozen_blocks: list[str] = []
        self._sums: dict[str, dict[str, Tensor]] = {}
        self.smoothed_loss = BiasCorrectedAverage(self.train_params.loss_smoothing)
        if self.train_params.keep_prob is not None and not set_keep_prob(
            self.model, self.train_params.keep_prob
        ):
            raise ConfigError(f"train.keep_prob is set, but {arch} has no dropout layer")

    @classmethod
    def build(cls, params: Params, name: str, data: Any, options: dict[str, Any], train: TrainParams) -> Task:
        """Model ``name``'s task sized for ``data`` (an ArrayDataModule), with ``options`` and
        ``train`` (the model's own, or a tuning trial's)."""
        channels, *_, size = data.input_shape  # C×H×W, or C×D×H×W for clips
        return cls(
            arch=params.arch_of(name),
            in_channels=channels,
            outputs=cls.outputs_for(params, data.names),
            image_size=size,
            names=data.names,
            options=options,
            train=train.model_dump(),
            **cls.settings(params, name, data, train),
        )

    @staticmethod
    @abc.abstractmethod
    def outputs_for(params: Params, names: list[str]) -> int:
        """The width of the network's last layer for these classes (or points), or as the
        family's settings say (verify's embedding)."""
        ...

    @staticmethod
    def settings(params: Params, name: str, data: Any, train: TrainParams) -> dict[str, Any]:
        """The family's own keyword arguments, read from params (and the data it trains on)."""
        return {}

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape as the network takes it: C×H×W (clips: C×D×H×W)."""
        return (self.hparams.in_channels, self.hparams.image_size, self.hparams.image_size)

    @property
    def spec(self) -> dict[str, Any]:
        return {key: self.hparams[key] for key in SPEC_KEYS}

    # What a family defines.

    @abc.abstractmethod
    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def batch_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Sums over the batch that ``epoch_metrics`` turns into the epoch's metrics."""
        ...

    @abc.abstractmethod
    def epoch_metrics(self, sums: dict[str, Tensor]) -> dict[str, Tensor]: ...

    # Shared.

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    @property
    def _channels_last(self) -> bool:
        return self.train_params.memory_format == "channels_last"

    def setup(self, stage: str) -> None:
        """Convolution weights in channels-last (NHWC) layout, set before the optimiser sees them:
        a training step of ResNets, VGG, Inception and NiN takes 0.7-0.9x the time on the CPU
        (benchmarks/memory_format.py), and tensor cores prefer it too. Values do not change."""
        if self._channels_last:  # 2-D convolutions' weights only: 3-D ones (clips) keep NCDHW
            self.model._apply(
                lambda t: t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
            )

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> Any:
        x, y = batch
        if self._channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def loss_and_outputs(self, x: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """The loss of the network's output; networks with auxiliary heads (Inception) return
        (main, *aux) in training, and each head's loss is added with ``train.aux_loss_weight``."""
        outputs = self.model(x)
        if isinstance(outputs, tuple):
            main, *aux = outputs
            loss = self.loss(main, targets)
            for extra in aux:
                if extra is not None:
                    loss = loss + self.train_params.aux_loss_weight * self.loss(extra, targets)
            return loss, main
        return self.loss(outputs, targets), outputs

    def training_loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """The training step's loss and outputs; classification mixes batches here."""
        return self.loss_and_outputs(x, y)

    def _accumulate(self, split: str, loss: Tensor, outputs: Tensor, y: Tensor) -> None:
        """Add a batch to the epoch's running sums (loss × examples, the family's sums)."""
        batch = {"loss": loss.detach() * len(y), "examples": loss.new_tensor(len(y))}
        batch.update(self.batch_sums(outputs.detach(), y))
        sums = self._sums.get(split)
        self._sums[split] = batch if sums is None else {k: sums[k] + v for k, v in batch.items()}

    def _log_epoch(self, split: str) -> None:
        """The epoch's metrics from its sums, added over every process of a ddp job first, so
        that each logs (and checkpoints and stops on) the metrics of the whole split."""
        sums = self._sums.pop(split, None)
        if sums is not None:
            sums = {key: self.trainer.strategy.reduce(value, reduce_op="sum") for key, value in sums.items()}
            self.log(f"{split}_loss", sums["loss"] / sums["examples"])
            for key, value in self.epoch_metrics(sums).items():
                self.log(f"{split}_{key}", value, prog_bar=key == "acc")
        if split == "train" and self.smoothed_loss.steps:
            self.log("train_loss_smooth", self.smoothed_loss.value, prog_bar=True)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss, outputs = self.training_loss(x, y)
        if self.train_params.l2_penalty:
            loss = loss + l2_penalty(self.model, self.train_params.l2_penalty, len(y))
        self._accumulate("train", loss, outputs, y)
        self.smoothed_loss.update(loss)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        outputs = self.model(x)
        self._accumulate("val", self.loss(outputs, y), outputs, y)

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
        trainable = [p for p in self.parameters() if p.requires_grad]  # a family's own heads too
        optimizer = build_optimizer(self.train_params, trainable)
        total_steps = int(self.trainer.estimated_stepping_batches)
        steps_per_epoch = max(1, total_steps // max(1, self.trainer.max_epochs))
        schedule = build_schedule(self.train_params, optimizer, total_steps, steps_per_epoch)
        if schedule is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
