"""The siamese network as binary classification of pairs (Taigman et al., 2014, DeepFace; the
notes' alternative to the triplet loss): logistic regression on |f(a) − f(b)|,

    ŷ = σ(Σ_k w_k · |f(a)_k − f(b)_k| + b)   (1: the same identity)

trained with cross-entropy on every pair of a batch of P identities × K photos. Same pairs are
few (P·K(K−1)/2 of P·K(P·K−1)/2), so each counts as many times more as the different ones
outnumber them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def pair_loss(embeddings: Tensor, identities: Tensor, head: nn.Linear) -> Tensor:
    """The weighted cross-entropy of ``head`` (D → 1) on |f(a) − f(b)| of every pair a < b."""
    rows, cols = torch.triu_indices(len(identities), len(identities), offset=1, device=identities.device)
    same = (identities[rows] == identities[cols]).to(embeddings.dtype)
    logits = head((embeddings[rows] - embeddings[cols]).abs()).squeeze(1)
    positives = same.sum()
    balance = (len(same) - positives) / positives.clamp(min=1.0)
    return F.binary_cross_entropy_with_logits(logits, same, pos_weight=balance)
