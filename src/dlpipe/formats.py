"""ONNX and ``torch.export`` programs of a trained model, checked against eager PyTorch.

TorchScript is deprecated in this torch, so the two portable formats are an
ONNX graph (dynamo exporter, run by onnxruntime) and a ``.pt2`` exported
program. Both take any batch size, unless the network's code loops over a batch's images
(the two-stage detector): then the one of the example.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_NAME = "images"
_MAX_BATCH = 1 << 16


def _dynamic_batch() -> tuple[dict[int, torch.export.Dim], ...]:
    return ({0: torch.export.Dim("batch", min=1, max=_MAX_BATCH)},)


def export_program(
    model: nn.Module, example: torch.Tensor, dynamic_batch: bool = True
) -> torch.export.ExportedProgram:
    """Trace the model once, with a dynamic batch dimension unless ``dynamic_batch`` is false
    (then the example's); both formats come from this trace."""
    return torch.export.export(model, (example,), dynamic_shapes=_dynamic_batch() if dynamic_batch else None)


def save_program(program: torch.export.ExportedProgram, path: Path) -> None:
    torch.export.save(program, str(path))


def export_onnx(
    program: torch.export.ExportedProgram, example: torch.Tensor, path: Path, output: str
) -> None:
    """The ONNX graph of ``program``: input ``images``, one output named ``output``."""
    torch.onnx.export(
        program,
        (example,),
        str(path),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[output],
        external_data=False,  # one self-contained file, as DVC and MLflow expect
        verbose=False,
    )


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
