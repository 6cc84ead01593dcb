"""leaderboard: reports/models/*/{metrics,train,export}.json -> reports/leaderboard.{csv,md,png}
and reports/champion.json.

Needs no torch: it reads what the per-model stages wrote. Rows are ranked by
``evaluate.primary_metric``; ``leaderboard.ensemble`` adds a row for the
average of those models' test probabilities. The best model (not the
ensemble, which is not a registered model) gets the MLflow alias ``champion``.
"""

from __future__ import annotations

import csv
import io as text_io

import numpy as np

from dlpipe import champion, io, paths
from dlpipe.config import Params
from dlpipe.errors import DataError
from dlpipe.evaluation.metrics import class_weight_vector, cost_matrix, summary_metrics

COLUMNS = (
    "rank",
    "model",
    "architecture",
    "test_accuracy",
    "weighted_error",
    "cost_error",
    "parameters",
    "macs_per_image",
    "train_seconds",
    "onnx_latency_ms",
)


def _read(arch: str, name: str) -> dict:
    path = paths.report_dir(arch) / name
    if not path.exists():
        raise DataError(f"{path}: missing; run `dvc repro` to produce it")
    return io.read_json(path)


def ensemble_row(
    members: list[str], rows: list[dict], class_weights: dict[str, float], costs: dict | None = None
) -> dict:
    """The members' averaged test probabilities, scored like a model; its costs are their sums."""
    arrays = []
    for name in members:
        path = paths.test_probabilities(name)
        if not path.exists():
            raise DataError(f"{path}: missing; run `dvc repro` to produce it")
        arrays.append(io.load_arrays(path))
    labels = arrays[0]["labels"]
    if any(not np.array_equal(a["labels"], labels) for a in arrays):
        raise DataError(f"leaderboard.ensemble: {', '.join(members)} were evaluated on different test sets")
    averaged = np.mean([a["probabilities"] for a in arrays], axis=0)
    class_names = [str(name) for name in arrays[0]["class_names"]]
    weights = class_weight_vector(class_names, class_weights)
    metrics = summary_metrics(labels, averaged.argmax(axis=1), weights, cost_matrix(class_names, costs or {}))
    by_name = {row["model"]: row for row in rows}
    summed = {key: sum(by_name[m][key] for m in members) for key in ("parameters", "macs_per_image")}
    timed = {
        key: round(sum(by_name[m][key] for m in members), 6) for key in ("train_seconds", "onnx_latency_ms")
    }
    return {
        "model": "ensemble",
        "architecture": "+".join(members),
        "test_accuracy": metrics["accuracy"],
        "weighted_error": metrics["weighted_error"],
        "cost_error": metrics["cost_error"],
        **summed,
        **timed,
    }


ORDER = {
    "accuracy": lambda row: (-row["test_accuracy"], row["weighted_error"], row["model"]),
    "weighted_error": lambda row: (row["weighted_error"], -row["test_accuracy"], row["model"]),
    "cost_error": lambda row: (row["cost_error"], -row["test_accuracy"], row["model"]),
}


def rank(rows: list[dict], primary_metric: str = "accuracy") -> list[dict]:
    """Best first by the primary metric, ties broken by the others, then by name."""
    rows = sorted(rows, key=ORDER[primary_metric])
    return [{"rank": i + 1, **{k: v for k, v in row.items() if k != "rank"}} for i, row in enumerate(rows)]


def collect(models: list[str], primary_metric: str = "accuracy") -> list[dict]:
    """One row per model, best first."""
    rows = []
    for arch in models:
        metrics, trained, exported = (
            _read(arch, "metrics.json"),
            _read(arch, "train.json"),
            _read(arch, "export.json"),
        )
        rows.append(
            {
                "model": arch,
                "architecture": trained["architecture"],
                "test_accuracy": metrics["accuracy"],
                "weighted_error": metrics["weighted_error"],
                "cost_error": metrics["cost_error"],
                "parameters": trained["parameters"],
                "macs_per_image": trained["macs_per_image"],
                "train_seconds": trained["train_seconds"],
                "onnx_latency_ms": exported["onnx_latency_ms"],
            }
        )
    return rank(rows, primary_metric)


def to_csv(rows: list[dict]) -> str:
    buffer = text_io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(column: str, value: object) -> str:
    if column in ("parameters", "macs_per_image"):
        return f"{value:,}"
    if column == "train_seconds":
        return f"{value:.1f}"
    if column == "onnx_latency_ms":
        return f"{value:.3f}"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def to_markdown(rows: list[dict]) -> str:
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---" if c in ("model", "architecture") else "---:" for c in COLUMNS) + "|"
    lines = ["| " + " | ".join(_cell(c, row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(["# Leaderboard", "", header, rule, *lines, ""])


def plot(rows: list[dict]) -> None:
    """Test accuracy against parameter count (log scale), one labelled point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        axis.scatter(row["parameters"], row["test_accuracy"])
        axis.annotate(
            row["model"],
            (row["parameters"], row["test_accuracy"]),
            xytext=(4, 4),
            textcoords="offset points",
        )
    axis.set(xscale="log", xlabel="parameters", ylabel="test accuracy", title="Leaderboard: accuracy vs size")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    with io.atomic_path(paths.LEADERBOARD_PNG) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def run(params: Params) -> None:
    primary = params.evaluate.primary_metric
    rows = collect(list(params.models), primary)
    if params.leaderboard.ensemble:
        extra = ensemble_row(
            params.leaderboard.ensemble, rows, params.evaluate.class_weights, params.evaluate.cost_matrix
        )
        rows = rank([*rows, extra], primary)
    io.write_text(paths.LEADERBOARD_CSV, to_csv(rows))
    io.write_text(paths.LEADERBOARD_MD, to_markdown(rows))
    plot(rows)
    best = next(row for row in rows if row["model"] != "ensemble")
    crowned = champion.crown(params, best["model"])
    io.write_json(paths.CHAMPION, crowned)
    print(
        f"leaderboard: {len(rows)} rows ranked by {primary}, best model {best['model']} "
        f"(accuracy {best['test_accuracy']:.4f}) -> {paths.LEADERBOARD_MD}; champion: {crowned['uri']}"
    )
