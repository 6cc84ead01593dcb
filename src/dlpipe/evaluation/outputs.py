"""Batched inference of a trained model on one split (torch only)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from dlpipe import paths
from dlpipe.data.tensors import load_split

# Batches of 64 channels-last images ran about 2x faster than batches of 256 in NCHW
# through the localize and landmarks convnets on 2 CPU cores, 1.2x through ResNet-20
# (the activations stay in cache; oneDNN prefers channels-last): benchmarks/README.md,
# "inference.py". The outputs are those of NCHW within float rounding.
BATCH_SIZE = 64


def split_inputs(
    family: str, split: str, limit: int | None = None
) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """A split's normalised inputs, targets and names (classes, or points); with ``limit``, its
    first ``limit`` examples (the splits are shuffled, so a random sample)."""
    dataset, names = load_split(family, paths.split_file(family, split), limit=limit)
    return dataset.x, dataset.y.numpy(), names


def in_batches(
    predict: Callable[[torch.Tensor], np.ndarray], x: torch.Tensor, layout: torch.memory_format | None = None
) -> np.ndarray:
    """``predict`` over ``x`` a batch at a time, outputs joined. Images go channels-last unless
    ``layout`` says otherwise (exported models are fed NCHW, as their users will)."""
    if layout is None:
        layout = torch.channels_last if x.dim() == 4 else torch.contiguous_format
    batches = (
        x[start : start + BATCH_SIZE].contiguous(memory_format=layout)
        for start in range(0, len(x), BATCH_SIZE)
    )
    return np.concatenate([predict(batch) for batch in batches])


@torch.inference_mode()
def predict_outputs(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The network's raw outputs (logits, or the family's target vector), in eval mode."""
    model.eval()
    return in_batches(lambda batch: model(batch).numpy(), x)
