"""Multiply-accumulates per image, counted by torch's own FLOP counter."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def multiply_accumulates(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs of one forward pass on one image (FLOPs / 2), in eval mode."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    return counter.get_total_flops() // 2
