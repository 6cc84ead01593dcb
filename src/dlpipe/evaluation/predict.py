"""Batched inference of a trained model on one split (torch only)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlpipe import io, paths
from dlpipe.data.tensors import load_split


def split_inputs(name: str) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """A split's normalised inputs, labels and class names."""
    dataset, class_names = load_split(paths.split_file(name), io.read_json(paths.NORMALIZATION))
    return dataset.x, dataset.y.numpy(), class_names


@torch.inference_mode()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    model.eval()
    outputs = [model(x[start : start + batch_size]) for start in range(0, len(x), batch_size)]
    return torch.cat(outputs).numpy()
