"""Optimiser and learning-rate schedule from the ``train`` section."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from dlpipe.config import TrainParams


def build_optimizer(params: TrainParams, parameters: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    if params.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=params.lr, momentum=params.momentum, weight_decay=params.weight_decay
        )
    if params.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=params.lr, weight_decay=params.weight_decay)
    return torch.optim.AdamW(parameters, lr=params.lr, weight_decay=params.weight_decay)


def build_schedule(
    params: TrainParams, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A per-step schedule, or None for a constant learning rate."""
    if params.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=params.lr, total_steps=max(total_steps, 1)
        )
    return None
