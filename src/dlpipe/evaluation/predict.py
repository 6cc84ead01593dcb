"""Batched inference of a trained task on one split."""

from __future__ import annotations

import numpy as np
import torch

from dlpipe import io, paths
from dlpipe.data.datamodule import to_tensor
from dlpipe.tasks.classify import ClassificationTask


def split_inputs(name: str) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """A split's normalised inputs, labels and class names."""
    arrays = io.load_arrays(paths.split_file(name))
    x = to_tensor(arrays["x"], io.read_json(paths.NORMALIZATION))
    return x, arrays["y"], [str(c) for c in arrays["classes"]]


@torch.inference_mode()
def predict_logits(task: ClassificationTask, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    task.eval()
    outputs = [task(x[start : start + batch_size]) for start in range(0, len(x), batch_size)]
    return torch.cat(outputs).numpy()
