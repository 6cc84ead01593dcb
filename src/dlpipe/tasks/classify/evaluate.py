"""Classification's evaluator: models/NAME + data/classify/split -> reports/models/NAME/.

- metrics.json (DVC metric): test accuracy, error rate, weighted error, cost
  error and expected calibration error;
- per_class.json/.csv and per_class.png: precision and recall per class;
- predictions.csv (DVC confusion plot) and confusion.png;
- calibration.csv (DVC plot) and reliability.png; worst.png, the most
  confident test mistakes;
- diagnosis.json/.md: the primary metric's error on the un-augmented train,
  train-dev, dev and test splits, and whether bias, variance or data mismatch
  dominates;
- test_probabilities.npz, for the leaderboard's ensemble.

All of it goes to the model's MLflow run. ``evaluate.tta`` averages several
views of each image.
"""

from __future__ import annotations

import csv
import io as text_io

import numpy as np

from dlpipe import disk, paths, tracking
from dlpipe.config import Params
from dlpipe.evaluation import plots, report
from dlpipe.evaluation.diagnosis import diagnose, to_markdown
from dlpipe.evaluation.metrics import (
    class_weight_vector,
    confusion_matrix,
    cost_matrix,
    expected_calibration_error,
    per_class_metrics,
    summary_metrics,
)
from dlpipe.evaluation.outputs import split_inputs
from dlpipe.evaluation.tta import predict_probabilities
from dlpipe.models.checkpoint import load_model

ERROR_OF = {"accuracy": "error_rate", "weighted_error": "weighted_error", "cost_error": "cost_error"}
ARTIFACTS = (
    paths.METRICS,
    "per_class.json",
    "per_class.png",
    "predictions.csv",
    "confusion.png",
    "calibration.csv",
    "reliability.png",
    "worst.png",
    paths.DIAGNOSIS_JSON,
    paths.DIAGNOSIS_MD,
)


def _csv(header: list[str], rows: list[list]) -> str:
    buffer = text_io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def predictions_csv(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> str:
    rows = [[i, class_names[a], class_names[p]] for i, (a, p) in enumerate(zip(y_true, y_pred, strict=True))]
    return _csv(["index", "actual", "predicted"], rows)


def worst_cases(probabilities: np.ndarray, y_true: np.ndarray, count: int) -> list[dict]:
    """The misclassified examples whose wrong prediction was the most confident."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:count]
    return [
        {
            "index": int(i),
            "true": int(y_true[i]),
            "predicted": int(predicted[i]),
            "confidence": float(probabilities[i, predicted[i]]),
        }
        for i in order
    ]


def _split_errors(params: Params, model, weights, costs) -> dict[str, float | None]:
    """The primary metric's error on every split that exists (train-dev only when held out)."""
    errors: dict[str, float | None] = {}
    key = ERROR_OF[params.evaluate.primary_metric]
    for name in ("train", "train_dev", "val"):
        if not paths.split_file("classify", name).exists():
            errors[name] = None
            continue
        limit = params.evaluate.diagnosis_train_examples if name == "train" else None
        x, y, _ = split_inputs("classify", name, limit)
        predicted = predict_probabilities(model, x, params.evaluate.tta, params.evaluate.tta_padding).argmax(
            axis=1
        )
        errors[name] = summary_metrics(y, predicted, weights, costs)[key]
    return errors


def _log_to_mlflow(params: Params, name: str, summary: dict, per_class: dict, diagnosis: dict) -> None:
    run_id = tracking.read_run_id(name)
    logged = {f"test_{key}": value for key, value in summary.items() if key != "examples"}
    for class_name, scores in per_class.items():
        logged[f"test_precision.{class_name}"] = scores["precision"]
        logged[f"test_recall.{class_name}"] = scores["recall"]
    tracking.log_metrics(params.tracking, run_id, {**logged, **report.diagnosis_metrics(diagnosis)})
    mlflow_client = tracking.client(params.tracking)
    # The evaluate settings (TTA, weights, costs...) are tags, not params: evaluate may run
    # again on the same training run with other settings, and MLflow params cannot change.
    from mlflow.entities import RunTag

    settings = tracking.flatten({"evaluate": params.evaluate.model_dump()})
    tags = [RunTag(key, str(value)) for key, value in settings.items()]
    mlflow_client.log_batch(run_id, tags=[*tags, RunTag("diagnosis", diagnosis["dominant"])])
    for file in ARTIFACTS:
        mlflow_client.log_artifact(run_id, str(paths.report_dir(name) / file), "evaluation")


def run(params: Params, name: str) -> None:
    settings = params.evaluate
    x, y_true, class_names = split_inputs("classify", "test")
    weights = class_weight_vector(class_names, settings.class_weights)
    costs = cost_matrix(class_names, settings.cost_matrix)
    model, _ = load_model(paths.model_file(name))
    probabilities = predict_probabilities(model, x, settings.tta, settings.tta_padding)
    y_pred = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    ece, bins = expected_calibration_error(confidence, y_pred == y_true, settings.calibration_bins)

    report_dir = paths.report_dir(name)
    summary = {**summary_metrics(y_true, y_pred, weights, costs), "ece": round(ece, 6)}
    per_class = per_class_metrics(y_true, y_pred, class_names, weights)
    errors = _split_errors(params, model, weights, costs)
    test_error = summary[ERROR_OF[settings.primary_metric]]
    diagnosis = diagnose(
        errors["train"],
        errors["val"],
        test_error,
        settings.bayes_error,
        errors["train_dev"],
        tolerance=settings.diagnosis_tolerance,
    )

    disk.save_arrays(
        paths.test_probabilities(name),
        {
            "probabilities": probabilities.astype(np.float32),
            "labels": y_true,
            "class_names": np.array(class_names),
        },
    )
    disk.write_text(report_dir / "predictions.csv", predictions_csv(y_true, y_pred, class_names))
    plots.confusion_matrix(
        confusion_matrix(y_true, y_pred, len(class_names)), class_names, report_dir / "confusion.png", name
    )
    disk.write_json(report_dir / "per_class.json", per_class)
    per_class_rows = [[c, s["precision"], s["recall"], s["support"]] for c, s in per_class.items()]
    disk.write_text(
        report_dir / "per_class.csv", _csv(["class", "precision", "recall", "support"], per_class_rows)
    )
    plots.per_class_bars(per_class, report_dir / "per_class.png", name)
    bin_rows = [[b["bin_low"], b["bin_high"], b["confidence"], b["accuracy"], b["examples"]] for b in bins]
    disk.write_text(
        report_dir / "calibration.csv",
        _csv(["bin_low", "bin_high", "confidence", "accuracy", "examples"], bin_rows),
    )
    plots.reliability_diagram(bins, ece, report_dir / "reliability.png", name)
    test_images = disk.load_arrays(paths.split_file("classify", "test"))["x"]
    plots.worst_mistakes(
        test_images,
        worst_cases(probabilities, y_true, settings.worst_examples),
        class_names,
        report_dir / "worst.png",
        name,
    )
    disk.write_json(report_dir / paths.DIAGNOSIS_JSON, diagnosis)
    disk.write_text(
        report_dir / paths.DIAGNOSIS_MD, to_markdown(name, ERROR_OF[settings.primary_metric], diagnosis)
    )
    disk.write_json(report_dir / paths.METRICS, summary)
    _log_to_mlflow(params, name, summary, per_class, diagnosis)
    print(
        f"evaluate@{name}: test accuracy {summary['accuracy']:.4f} (tta: {settings.tta}), "
        f"weighted error {summary['weighted_error']:.4f}, ECE {ece:.4f}; "
        f"dominant gap: {diagnosis['dominant']}"
    )
