"""The triplet loss (Schroff et al., 2015, "FaceNet"), as the notes write it, and its
batch-hard form (Hermans et al., 2017, "In Defense of the Triplet Loss").

For an anchor A, a positive P (the same identity) and a negative N (another), with f the
embedding and α the margin:

    L(A, P, N) = max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0)

Random triplets are mostly satisfied already (loss 0, no gradient): the notes choose hard
ones. Batch-hard takes, for each image of a batch of P identities × K images as the anchor,
its farthest positive and its nearest negative in the batch. It compares distances, not
their squares, as Hermans et al. do: at a collapse (every embedding alike, which a new
network starts near) the squares' gradient 2(f(A) − f(P)) vanishes and the loss stays at α,
while a distance's gradient is a unit vector whatever the distance.
"""

from __future__ import annotations

import torch
from torch import Tensor


def squared_distances(embeddings: Tensor) -> Tensor:
    """‖f_i − f_j‖² of every pair of the N×D ``embeddings``: N×N, clamped at 0 (the expansion
    ‖a‖² + ‖b‖² − 2a·b can round below it)."""
    norms = embeddings.pow(2).sum(dim=1)
    return (norms[:, None] + norms[None, :] - 2.0 * embeddings @ embeddings.T).clamp(min=0.0)


def triplet_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float) -> Tensor:
    """The notes' loss, averaged over the triplets (rows of N×D embeddings)."""
    closer = (anchor - positive).pow(2).sum(dim=1) - (anchor - negative).pow(2).sum(dim=1)
    return (closer + margin).clamp(min=0.0).mean()


def batch_hard(embeddings: Tensor, identities: Tensor, margin: float, squared: bool = False) -> Tensor:
    """The triplet loss of each anchor with its farthest positive and nearest negative in the
    batch, on distances (or their squares), averaged over the anchors that have both."""
    distances = squared_distances(embeddings)
    same = identities[:, None] == identities[None, :]
    itself = torch.eye(len(identities), dtype=torch.bool, device=identities.device)
    positives = same & ~itself
    hardest_positive = distances.masked_fill(~positives, float("-inf")).max(dim=1).values
    hardest_negative = distances.masked_fill(same, float("inf")).min(dim=1).values
    usable = positives.any(dim=1) & (~same).any(dim=1)
    if not usable.any():
        raise ValueError("a batch-hard batch needs two images of an identity and another identity")
    hardest_positive, hardest_negative = hardest_positive[usable], hardest_negative[usable]
    if not squared:  # the root of the chosen pairs only: the diagonal's 0 has no derivative
        hardest_positive, hardest_negative = (
            d.clamp(min=1e-12).sqrt() for d in (hardest_positive, hardest_negative)
        )
    return (hardest_positive - hardest_negative + margin).clamp(min=0.0).mean()
