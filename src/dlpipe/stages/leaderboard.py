"""leaderboard: reports/*/{metrics,train,export}.json -> reports/leaderboard.{csv,md,png}.

Needs no torch: it only reads the JSON that the per-architecture stages wrote.
"""

from __future__ import annotations

import csv
import io as text_io

from dlpipe import io, paths
from dlpipe.config import Params
from dlpipe.errors import DataError

COLUMNS = (
    "rank",
    "model",
    "architecture",
    "test_accuracy",
    "weighted_error",
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


def collect(models: list[str]) -> list[dict]:
    """One row per architecture, best first (accuracy, then weighted error)."""
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
                "parameters": trained["parameters"],
                "macs_per_image": trained["macs_per_image"],
                "train_seconds": trained["train_seconds"],
                "onnx_latency_ms": exported["onnx_latency_ms"],
            }
        )
    rows.sort(key=lambda row: (-row["test_accuracy"], row["weighted_error"], row["model"]))
    return [{"rank": i + 1, **row} for i, row in enumerate(rows)]


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
    rows = collect(params.models)
    io.write_text(paths.LEADERBOARD_CSV, to_csv(rows))
    io.write_text(paths.LEADERBOARD_MD, to_markdown(rows))
    plot(rows)
    best = rows[0]
    print(
        f"leaderboard: {len(rows)} models, best {best['model']} "
        f"({best['test_accuracy']:.4f}) -> {paths.LEADERBOARD_MD}"
    )
