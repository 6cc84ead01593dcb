"""evaluate@ARCH: models/ARCH + data/split/test -> reports/ARCH/metrics.json, predictions, confusion."""

from __future__ import annotations

import csv
import io as text_io

from dlpipe import io, paths, tracking
from dlpipe.config import Params
from dlpipe.evaluation import plots
from dlpipe.evaluation.metrics import class_weight_vector, classification_report, confusion_matrix
from dlpipe.evaluation.predict import predict_logits, split_inputs
from dlpipe.tasks.classify import load_task


def run(params: Params, arch: str) -> None:
    x, y_true, class_names = split_inputs("test")
    weights = class_weight_vector(class_names, params.evaluate.class_weights)
    task = load_task(str(paths.model_dir(arch) / "model.ckpt"))
    y_pred = predict_logits(task, x).argmax(axis=1)

    report_dir = paths.report_dir(arch)
    report = classification_report(y_true, y_pred, class_names, weights)
    buffer = text_io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["index", "actual", "predicted"])
    writer.writerows((i, class_names[t], class_names[p]) for i, (t, p) in enumerate(zip(y_true, y_pred, strict=True)))
    io.write_text(report_dir / "predictions.csv", buffer.getvalue())
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    plots.confusion_matrix(matrix, class_names, report_dir / "confusion.png", arch)
    io.write_json(report_dir / "metrics.json", report)

    run_id = tracking.read_run_id(arch)
    mlflow_client = tracking.client(params.tracking)
    flat = {"test_accuracy": report["accuracy"], "test_error": report["error"], "test_weighted_error": report["weighted_error"]}
    for name, scores in report["per_class"].items():
        flat[f"test_precision.{name}"] = scores["precision"]
        flat[f"test_recall.{name}"] = scores["recall"]
    for key, value in flat.items():
        mlflow_client.log_metric(run_id, key, value)
    for name in ("metrics.json", "predictions.csv", "confusion.png"):
        mlflow_client.log_artifact(run_id, str(report_dir / name), "evaluation")
    print(
        f"evaluate@{arch}: test accuracy {report['accuracy']:.4f}, "
        f"weighted error {report['weighted_error']:.4f}"
    )
