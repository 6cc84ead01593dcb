"""mixup (Zhang et al., 2018) and manifold mixup (Verma et al., 2019).

Both draw lambda ~ Beta(alpha, alpha) and a permutation of the batch, and
train on lambda * a + (1 - lambda) * b with the targets mixed the same way.
mixup mixes the inputs; manifold mixup mixes the hidden state after a
random one of the model's mixing points (the input counts as point 0), by a
forward hook on that layer, so it works for any model made of named blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def sample_lambda(alpha: float) -> float:
    """lambda ~ Beta(alpha, alpha), from torch's (seeded) generator."""
    return float(torch.distributions.Beta(alpha, alpha).sample())


def mixed_targets(y: Tensor, permutation: Tensor, lam: float, num_classes: int) -> Tensor:
    """lambda * one_hot(y) + (1 - lambda) * one_hot(y[permutation]): rows are convex and sum to 1."""
    one_hot = F.one_hot(y, num_classes).float()
    return lam * one_hot + (1.0 - lam) * one_hot[permutation]


def mix(tensor: Tensor, permutation: Tensor, lam: float) -> Tensor:
    return lam * tensor + (1.0 - lam) * tensor[permutation]


def mixing_points(model: nn.Module) -> list[str]:
    """Names of the layers whose outputs manifold mixup may mix, in forward order.

    The parameter-holding children of each top-level block before the head
    (the block itself when it is not a Sequential); auxiliary heads are
    side branches, not points. An empty list: the model has no hidden layer.
    """
    blocks = [
        (name, child) for name, child in model.named_children() if any(True for _ in child.parameters())
    ]
    points = []
    for name, block in blocks[:-1]:
        if name.startswith("aux"):
            continue
        if isinstance(block, nn.Sequential):
            points += [
                f"{name}.{child}"
                for child, layer in block.named_children()
                if any(True for _ in layer.parameters())
            ]
        else:
            points.append(name)
    return points


@contextmanager
def mixing_at(model: nn.Module, point: str, permutation: Tensor, lam: float) -> Iterator[None]:
    """While active, the output of layer ``point`` is replaced by its mix."""

    def hook(module: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
        return mix(output, permutation, lam)

    handle = model.get_submodule(point).register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
