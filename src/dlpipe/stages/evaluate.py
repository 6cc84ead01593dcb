"""evaluate@ARCH: models/ARCH + data/split/test -> reports/models/ARCH/{metrics,per_class}.json,
predictions.csv (DVC confusion plot) and confusion.png, all logged to the training run."""

from __future__ import annotations

import csv
import io as text_io

import numpy as np

from dlpipe import io, paths, tracking
from dlpipe.config import Params
from dlpipe.evaluation import plots
from dlpipe.evaluation.metrics import (
    class_weight_vector,
    confusion_matrix,
    per_class_metrics,
    summary_metrics,
)
from dlpipe.evaluation.predict import predict_logits, probabilities, split_inputs
from dlpipe.models.checkpoint import load_model


def predictions_csv(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> str:
    buffer = text_io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["index", "actual", "predicted"])
    for i, (actual, predicted) in enumerate(zip(y_true, y_pred, strict=True)):
        writer.writerow([i, class_names[actual], class_names[predicted]])
    return buffer.getvalue()


def _log_to_mlflow(params: Params, arch: str, summary: dict, per_class: dict) -> None:
    run_id = tracking.read_run_id(arch)
    mlflow_client = tracking.client(params.tracking)
    logged = {f"test_{key}": value for key, value in summary.items() if key != "examples"}
    for name, scores in per_class.items():
        logged[f"test_precision.{name}"] = scores["precision"]
        logged[f"test_recall.{name}"] = scores["recall"]
    tracking.log_metrics(params.tracking, run_id, logged)
    for name in ("metrics.json", "per_class.json", "predictions.csv", "confusion.png"):
        mlflow_client.log_artifact(run_id, str(paths.report_dir(arch) / name), "evaluation")


def run(params: Params, arch: str) -> None:
    x, y_true, class_names = split_inputs("test")
    weights = class_weight_vector(class_names, params.evaluate.class_weights)
    model, _ = load_model(paths.model_dir(arch) / "model.pt")
    y_pred = probabilities(predict_logits(model, x)).argmax(axis=1)

    report_dir = paths.report_dir(arch)
    summary = summary_metrics(y_true, y_pred, weights)
    per_class = per_class_metrics(y_true, y_pred, class_names, weights)
    io.write_text(report_dir / "predictions.csv", predictions_csv(y_true, y_pred, class_names))
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    plots.confusion_matrix(matrix, class_names, report_dir / "confusion.png", arch)
    io.write_json(report_dir / "per_class.json", per_class)
    io.write_json(report_dir / "metrics.json", summary)
    _log_to_mlflow(params, arch, summary, per_class)
    print(
        f"evaluate@{arch}: test accuracy {summary['accuracy']:.4f}, "
        f"weighted error {summary['weighted_error']:.4f}"
    )
