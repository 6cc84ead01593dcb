"""Regularisers that are not the optimiser's weight decay: the course's explicit L2 cost
term and dropout given as keep_prob."""

from __future__ import annotations

from torch import Tensor, nn


def penalized_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weight matrices and kernels W of the course's sum over layers; biases and
    batch-norm scales are not penalised."""
    return [p for p in model.parameters() if p.requires_grad and p.ndim > 1]


def l2_penalty(model: nn.Module, lam: float, batch_size: int) -> Tensor:
    """lambda / (2m) * sum over layers of ||W||_F^2, with m the mini-batch size."""
    total = sum(weight.pow(2).sum() for weight in penalized_weights(model))
    return lam / (2 * batch_size) * total


def set_keep_prob(model: nn.Module, keep_prob: float) -> int:
    """Make every dropout layer keep units with probability ``keep_prob``; return how many."""
    layers = [m for m in model.modules() if isinstance(m, nn.Dropout | nn.Dropout2d)]
    for layer in layers:
        layer.p = 1.0 - keep_prob
    return len(layers)
