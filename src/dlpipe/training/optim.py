"""Optimiser and learning-rate schedule from the ``train`` section.

Every schedule is stepped once per optimiser step, so the logged lr of each
step is the one that step used. Decays follow the course's formulas by
epoch (counted from the end of the warm-up):

- inverse_time  lr0 / (1 + decay_rate * epoch)
- exponential   lr0 * gamma ** epoch
- step          lr0 * gamma ** (epoch // step_epochs)
- cosine        lr0 * (1 + cos(pi * t / T)) / 2, t and T in steps after the warm-up

A linear warm-up of ``warmup_steps`` (or ``warmup_epochs``) steps,
lr0 * (step + 1) / warmup, comes first; ``onecycle`` is torch's OneCycleLR.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from dlpipe.config import TrainParams


def build_optimizer(params: TrainParams, parameters: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    decay = params.weight_decay
    if params.optimizer == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=params.lr,
            momentum=params.momentum,
            nesterov=params.nesterov and params.momentum > 0,
            weight_decay=decay,
        )
    if params.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            parameters, lr=params.lr, alpha=params.beta2, eps=params.eps, weight_decay=decay
        )
    optimizer = torch.optim.Adam if params.optimizer == "adam" else torch.optim.AdamW
    return optimizer(
        parameters, lr=params.lr, betas=(params.beta1, params.beta2), eps=params.eps, weight_decay=decay
    )


def warmup_steps(params: TrainParams, steps_per_epoch: int) -> int:
    return params.warmup_steps or params.warmup_epochs * steps_per_epoch


def lr_factor(params: TrainParams, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """The multiple of ``train.lr`` used by optimiser step ``step`` (0-based)."""
    warmup = warmup_steps(params, steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    after = step - warmup
    epoch = after // max(steps_per_epoch, 1)
    if params.schedule == "inverse_time":
        return 1.0 / (1.0 + params.decay_rate * epoch)
    if params.schedule == "exponential":
        return params.gamma**epoch
    if params.schedule == "step":
        return params.gamma ** (epoch // params.step_epochs)
    if params.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(after / max(total_steps - warmup, 1), 1.0)))
    return 1.0


def build_schedule(
    params: TrainParams, optimizer: torch.optim.Optimizer, total_steps: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A per-step schedule, or None for a constant learning rate without warm-up."""
    if params.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=params.lr, total_steps=max(total_steps, 1)
        )
    if params.schedule == "constant" and warmup_steps(params, steps_per_epoch) == 0:
        return None
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(params, step, steps_per_epoch, total_steps)
    )
