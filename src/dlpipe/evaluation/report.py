"""What every family's evaluator shares: scores on each split, the diagnosis of its primary
metric, and the files and MLflow records of an evaluation.

A family scores a split with ``score(outputs, targets, names) -> {metric: value}`` on the
network's raw outputs; the errors the diagnosis compares are 1 − metric for a
metric that grows with quality (mean IoU, PCK) and the metric itself otherwise (NME).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
from torch import nn

from dlpipe import disk, paths, tracking
from dlpipe.config import Params
from dlpipe.evaluation.diagnosis import diagnose, to_markdown
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.tasks import FAMILIES

Score = Callable[[torch.Tensor, torch.Tensor, list[str]], dict[str, float]]
# (test images as uint8 N×H×W×C, their targets, the network's outputs, names): draws the family's plot
Plot = Callable[[np.ndarray, np.ndarray, np.ndarray, list[str]], None]
# (the network) -> the context the test split's prediction runs in, giving a function of the
# test targets: test metrics that need more than the outputs (what the network found on the way)
Watch = Callable[[nn.Module], AbstractContextManager[Callable[[torch.Tensor], dict[str, float]]]]


def evaluate(
    params: Params,
    family: str,
    name: str,
    score: Score,
    plot: Plot,
    plot_files: list[str],
    watch: Watch | None = None,
) -> tuple[dict[str, float], dict]:
    """Model ``name``'s evaluation: its scores on the un-augmented train split (at most
    ``evaluate.diagnosis_train_examples`` of it), val and test splits (the diagnosis reads all
    three), the test metrics ``watch`` gathers while the test split is predicted, the family's
    plot from the test split's outputs (predicted once), all published. Returns the test
    metrics and the diagnosis."""
    model, _ = load_model(paths.model_file(name))
    scored = {}
    for split in ("train", "val", "test"):
        limit = params.evaluate.diagnosis_train_examples if split == "train" else None
        x, targets, names = split_inputs(family, split, limit)
        with watch(model) if watch and split == "test" else nullcontext() as watched:
            outputs = predict_outputs(model, x)
        scored[split] = score(torch.from_numpy(outputs), torch.from_numpy(targets), names)
        if watched is not None:
            scored[split].update(watched(torch.from_numpy(targets)))
    plot(disk.load_arrays(paths.split_file(family, "test"))["x"], targets, outputs, names)
    found, error_name = diagnosis(params, family, scored)
    publish(params, name, scored["test"], found, error_name, plot_files)
    return scored["test"], found


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
    model's report folder and its MLflow run."""
    report_dir = paths.report_dir(name)
    disk.write_json(report_dir / paths.DIAGNOSIS_JSON, found)
    disk.write_text(report_dir / paths.DIAGNOSIS_MD, to_markdown(name, error_name, found))
    disk.write_json(report_dir / paths.METRICS, metrics)
    run_id = tracking.read_run_id(name)
    logged = {}
    for key, value in metrics.items():  # per-class values as test_KEY.CLASS
        logged.update(
            {f"test_{key}.{k}": v for k, v in value.items()}
            if isinstance(value, dict)
            else {f"test_{key}": value}
        )
    tracking.log_metrics(params.tracking, run_id, {**logged, **diagnosis_metrics(found)})
    mlflow_client = tracking.client(params.tracking)
    mlflow_client.set_tag(run_id, "diagnosis", found["dominant"])
    for file in (paths.METRICS, paths.DIAGNOSIS_JSON, paths.DIAGNOSIS_MD, *files):
        mlflow_client.log_artifact(run_id, str(report_dir / file), "evaluation")
