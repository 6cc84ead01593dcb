"""What every family's evaluator shares: scores on each split, the diagnosis of its primary
metric, and the files and MLflow records of an evaluation.

A family scores a split with ``score(outputs, targets) -> {metric: value}`` on the
network's raw outputs; the errors the diagnosis compares are 1 − metric for a
metric that grows with quality (mean IoU, PCK) and the metric itself otherwise (NME).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from dlpipe import disk, paths, tracking
from dlpipe.config import Params
from dlpipe.evaluation.diagnosis import diagnose, to_markdown
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.tasks import FAMILIES

Score = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]


def split_scores(model: nn.Module, family: str, score: Score) -> dict[str, dict[str, float]]:
    """The family's scores on the un-augmented train, val and test splits."""
    scored = {}
    for split in ("train", "val", "test"):
        x, y, _ = split_inputs(family, split)
        outputs = torch.from_numpy(predict_outputs(model, x))
        scored[split] = score(outputs, torch.from_numpy(np.asarray(y)))
    return scored


def diagnosis(params: Params, family: str, scored: dict[str, dict[str, float]]) -> tuple[dict, str]:
    """Bias and variance read off the primary metric's errors; and the error's name."""
    metric = params.primary_metric(family)
    better = FAMILIES[family].monitors[metric][1]

    def error(split: str) -> float:
        value = scored[split][metric]
        return 1.0 - value if better == "max" else value

    error_name = f"1 - {metric}" if better == "max" else metric
    found = diagnose(
        error("train"), error("val"), error("test"), tolerance=params.evaluate.diagnosis_tolerance
    )
    return found, error_name


def diagnosis_metrics(found: dict) -> dict[str, float]:
    """The diagnosis as MLflow metrics: each split's error and each gap."""
    logged = {
        f"diagnosis.{split}_error": value for split, value in found["errors"].items() if value is not None
    }
    logged.update({f"diagnosis.{gap.replace(' ', '_')}": value for gap, value in found["gaps"].items()})
    return logged


def publish(params: Params, name: str, metrics: dict, found: dict, error_name: str, files: list[str]) -> None:
    """metrics.json, diagnosis.{json,md} and the family's ``files`` (already written) to the
    entry's report folder and its MLflow run."""
    report_dir = paths.report_dir(name)
    disk.write_json(report_dir / paths.DIAGNOSIS_JSON, found)
    disk.write_text(report_dir / paths.DIAGNOSIS_MD, to_markdown(name, error_name, found))
    disk.write_json(report_dir / paths.METRICS, metrics)
    run_id = tracking.read_run_id(name)
    logged = {f"test_{key}": value for key, value in metrics.items()}
    tracking.log_metrics(params.tracking, run_id, {**logged, **diagnosis_metrics(found)})
    mlflow_client = tracking.client(params.tracking)
    mlflow_client.set_tag(run_id, "diagnosis", found["dominant"])
    for file in (paths.METRICS, paths.DIAGNOSIS_JSON, paths.DIAGNOSIS_MD, *files):
        mlflow_client.log_artifact(run_id, str(report_dir / file), "evaluation")
