"""The costs of neural style transfer, with the course's normalisations.

Feature maps are 1xCxHxW (or CxHxW). ``gram`` divides by C·H·W, so that the course's style cost
1/(2·n_C·n_H·n_W)² · Σ(G_S − G_G)² on un-normalised Grams equals ¼ · Σ(Ĝ_S − Ĝ_G)² on these.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def gram(features: torch.Tensor) -> torch.Tensor:
    """The CxC Gram matrix A·Aᵀ of the unrolled maps, divided by C·H·W (size-independent)."""
    channels = features.shape[-3]
    unrolled = features.reshape(channels, -1)
    return unrolled @ unrolled.T / unrolled.numel()


def content_cost(a_C: torch.Tensor, a_G: torch.Tensor) -> torch.Tensor:
    """1/(4·n_H·n_W·n_C) · Σ(a_C − a_G)² for one layer's activations."""
    return (a_C - a_G).pow(2).sum() / (4 * a_C.numel())


def style_cost(
    grams_S: Sequence[torch.Tensor], feats_G: Sequence[torch.Tensor], weights: Sequence[float]
) -> torch.Tensor:
    """Σ_l λ_l · 1/(2·n_C·n_H·n_W)² · Σ(G_S − G_G)², written with normalised Grams (module doc)."""
    terms = [
        weight * (gram_S - gram(feat_G)).pow(2).sum() / 4
        for gram_S, feat_G, weight in zip(grams_S, feats_G, weights, strict=True)
    ]
    return torch.stack(terms).sum()


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (smooth, so L-BFGS's line search behaves)."""
    across = (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean()
    down = (image[..., 1:, :] - image[..., :-1, :]).pow(2).mean()
    return across + down
