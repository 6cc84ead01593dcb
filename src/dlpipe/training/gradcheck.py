"""Gradient checking, as the course does it: autograd against the two-sided difference.

For every element i of the parameters, (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
approximates dJ/dtheta_i; the check reports
||g_autograd - g_numeric|| / (||g_autograd|| + ||g_numeric||).
Around 1e-7 or below in float64: the backward pass is right; above 1e-3: it is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

TOLERANCE = 1e-6


class GradientCheckError(AssertionError):
    """Autograd and the numerical gradient disagree."""


def relative_error(
    cost: Callable[[], Tensor],
    parameters: Sequence[Tensor],
    epsilon: float = 1e-6,
    max_per_tensor: int | None = None,
) -> float:
    """Compare autograd's gradient of the scalar ``cost()`` with the two-sided difference.

    ``parameters`` are the leaf tensors ``cost`` reads (float64 for a meaningful
    result); they are perturbed in place and restored. ``max_per_tensor`` checks
    a seeded random sample of each tensor's elements instead of all of them.
    """
    for p in parameters:
        p.grad = None
    cost().backward()
    generator = torch.Generator().manual_seed(0)
    chosen = [
        torch.randperm(p.numel(), generator=generator)[:max_per_tensor]
        if max_per_tensor is not None and p.numel() > max_per_tensor
        else torch.arange(p.numel())
        for p in parameters
    ]
    gradients = [torch.zeros_like(p) if p.grad is None else p.grad for p in parameters]  # None: J ignores p
    analytic = torch.cat([g.reshape(-1)[index] for g, index in zip(gradients, chosen, strict=True)])
    numeric = []
    with torch.no_grad():
        for p, index in zip(parameters, chosen, strict=True):
            flat = p.view(-1)
            for i in index.tolist():
                original = flat[i].item()
                flat[i] = original + epsilon
                plus = cost().item()
                flat[i] = original - epsilon
                minus = cost().item()
                flat[i] = original
                numeric.append((plus - minus) / (2 * epsilon))
    numeric_t = torch.tensor(numeric, dtype=analytic.dtype)
    denominator = analytic.norm() + numeric_t.norm()
    return 0.0 if denominator == 0 else float((analytic - numeric_t).norm() / denominator)


def check_module(
    module: nn.Module,
    *inputs: Tensor,
    epsilon: float = 1e-6,
    tolerance: float = TOLERANCE,
    max_per_tensor: int | None = 64,
) -> float:
    """Gradient-check a layer's parameters and inputs through J = sum(output * fixed weights).

    The module runs in float64 and eval mode (dropout and batch statistics would
    make J random); up to ``max_per_tensor`` elements of each tensor are checked
    (None: all). Raises GradientCheckError above ``tolerance``.
    """
    module = module.double().eval()
    leaves = [x.detach().double().requires_grad_(True) for x in inputs]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        probe = module(*leaves)
    weights = torch.randn(probe.shape, generator=generator, dtype=torch.float64)
    parameters = [p for p in module.parameters() if p.requires_grad] + leaves
    error = relative_error(lambda: (module(*leaves) * weights).sum(), parameters, epsilon, max_per_tensor)
    if error > tolerance:
        raise GradientCheckError(f"{type(module).__name__}: relative error {error:.2e} > {tolerance:.0e}")
    return error
