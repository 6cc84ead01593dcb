"""ONNX and ``torch.export`` programs of a trained model, checked against eager PyTorch.

TorchScript is deprecated in this torch, so the two portable formats are an
ONNX graph (dynamo exporter, run by onnxruntime) and a ``.pt2`` exported
program. Both take any batch size.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_NAME, OUTPUT_NAME = "images", "logits"
_MAX_BATCH = 1 << 16


def _dynamic_batch() -> tuple[dict[int, torch.export.Dim], ...]:
    return ({0: torch.export.Dim("batch", min=1, max=_MAX_BATCH)},)


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        model,
        (example,),
        str(path),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=_dynamic_batch(),
        external_data=False,  # one self-contained file, as DVC and MLflow expect
        verbose=False,
    )


def export_program(model: nn.Module, example: torch.Tensor, path: Path) -> torch.export.ExportedProgram:
    program = torch.export.export(model, (example,), dynamic_shapes=_dynamic_batch())
    torch.export.save(program, str(path))
    return program


def onnx_session(path: Path):  # -> onnxruntime.InferenceSession
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def median_latency_ms(predict: Callable[[], object], runs: int, warmup: int = 10) -> float:
    """Median wall time of one call, in milliseconds, after a few warm-up calls."""
    for _ in range(warmup):
        predict()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        predict()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
