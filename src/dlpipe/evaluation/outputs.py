"""Batched inference of a trained model on one split (torch only)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlpipe import paths
from dlpipe.data.tensors import load_split


def split_inputs(family: str, split: str) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """A split's normalised inputs, targets and names (classes, or points)."""
    dataset, names = load_split(family, paths.split_file(family, split))
    return dataset.x, dataset.y.numpy(), names


@torch.inference_mode()
def predict_outputs(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """The network's raw outputs (logits, or the family's target vector), in eval mode."""
    model.eval()
    outputs = [model(x[start : start + batch_size]) for start in range(0, len(x), batch_size)]
    return torch.cat(outputs).numpy()
