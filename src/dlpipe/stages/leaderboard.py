"""leaderboard: reports/models/*/{metrics,train,export}.json -> reports/leaderboard.md,
reports/leaderboard/FAMILY.{csv,png} and reports/champion.json.

Needs no torch: it reads what the per-model stages wrote. One table per task
family, ranked by that family's primary metric; ``leaderboard.ensemble`` adds
a row to classification's for the average of those models' test probabilities.
Each family's best model (never the ensemble, which is not a registered model)
gets the MLflow alias ``champion``.
"""

from __future__ import annotations

import csv
import io as text_io

import numpy as np

from dlpipe import champion, disk, paths
from dlpipe.config import Params
from dlpipe.errors import DataError
from dlpipe.evaluation.metrics import class_weight_vector, cost_matrix, summary_metrics
from dlpipe.tasks import FAMILIES

IDENTITY = ("rank", "model", "architecture")
COSTS = ("parameters", "macs_per_image", "train_seconds", "onnx_latency_ms")


def columns(family: str) -> tuple[str, ...]:
    """The family's table: who, its test metrics (from metrics.json), what it costs."""
    return (*IDENTITY, *FAMILIES[family].columns, *COSTS)


def _read(name: str, file: str) -> dict:
    path = paths.report_dir(name) / file
    if not path.exists():
        raise DataError(f"{path}: missing; run `dvc repro` to produce it")
    return disk.read_json(path)


def ensemble_row(
    members: list[str], rows: list[dict], class_weights: dict[str, float], costs: dict | None = None
) -> dict:
    """The members' averaged test probabilities, scored like a model; its costs are their sums."""
    arrays = []
    for name in members:
        path = paths.test_probabilities(name)
        if not path.exists():
            raise DataError(f"{path}: missing; run `dvc repro` to produce it")
        arrays.append(disk.load_arrays(path))
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
        **{key: metrics[key] for key in FAMILIES["classify"].columns},
        **summed,
        **timed,
    }


def rank(rows: list[dict], family: str, primary_metric: str) -> list[dict]:
    """Best first by the primary metric (in its direction), ties broken by name."""
    sign = -1 if FAMILIES[family].monitors[primary_metric][1] == "max" else 1
    rows = sorted(rows, key=lambda row: (sign * row[primary_metric], row["model"]))
    return [{"rank": i + 1, **{k: v for k, v in row.items() if k != "rank"}} for i, row in enumerate(rows)]


def collect(params: Params, family: str) -> list[dict]:
    """One row per model of the family, best first."""
    rows = []
    for name in params.models_of(family):
        metrics, trained = _read(name, paths.METRICS), _read(name, paths.TRAIN_SUMMARY)
        exported = _read(name, paths.EXPORT_SUMMARY)
        rows.append(
            {
                "model": name,
                "architecture": trained["architecture"],
                # verify's N-way accuracy is missing where a split holds fewer than N identities
                **{key: metrics.get(key) for key in FAMILIES[family].columns},
                "parameters": trained["parameters"],
                "macs_per_image": trained["macs_per_image"],
                "train_seconds": trained["train_seconds"],
                "onnx_latency_ms": exported["onnx_latency_ms"],
            }
        )
    return rank(rows, family, params.primary_metric(family))


def to_csv(rows: list[dict], family: str) -> str:
    buffer = text_io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(family))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def cell(column: str, value: object) -> str:
    if column in ("parameters", "macs_per_image"):
        return f"{value:,}"
    if column == "train_seconds":
        return f"{value:.1f}"
    if column == "onnx_latency_ms":
        return f"{value:.3f}"
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def to_markdown(tables: dict[str, list[dict]], primary: dict[str, str]) -> str:
    """One table per family, each ranked by its primary metric."""
    lines = ["# Leaderboard", ""]
    for family, rows in tables.items():
        shown = columns(family)
        lines += [f"## {FAMILIES[family].title} (ranked by {primary[family]})", ""]
        lines.append("| " + " | ".join(shown) + " |")
        lines.append("|" + "|".join("---" if c in ("model", "architecture") else "---:" for c in shown) + "|")
        lines += ["| " + " | ".join(cell(c, row[c]) for c in shown) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def plot(rows: list[dict], family: str, metric: str) -> None:
    """The primary metric against parameter count (log scale), one labelled point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        axis.scatter(row["parameters"], row[metric])
        axis.annotate(
            row["model"], (row["parameters"], row[metric]), xytext=(4, 4), textcoords="offset points"
        )
    title = f"{FAMILIES[family].title}: {metric} vs size"
    axis.set(xscale="log", xlabel="parameters", ylabel=f"test {metric}", title=title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    with disk.atomic_path(paths.leaderboard_png(family)) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def run(params: Params) -> None:
    tables, primary, champions = {}, {}, {}
    for family in FAMILIES:
        evaluated = [
            name for name in params.models_of(family) if (paths.report_dir(name) / paths.METRICS).exists()
        ]
        if not evaluated:
            # `dlpipe leaderboard` after training one family only; dvc repro evaluates them all first.
            print(f"leaderboard {family}: no model evaluated yet; left out")
            continue
        primary[family] = params.primary_metric(family)
        rows = collect(params, family)
        if family == "classify" and params.leaderboard.ensemble:
            extra = ensemble_row(
                params.leaderboard.ensemble, rows, params.evaluate.class_weights, params.evaluate.cost_matrix
            )
            rows = rank([*rows, extra], family, primary[family])
        tables[family] = rows
        disk.write_text(paths.leaderboard_csv(family), to_csv(rows, family))
        plot(rows, family, primary[family])
        best = next(row for row in rows if row["model"] != "ensemble")
        champions[family] = champion.crown(params, family, best["model"])
        print(
            f"leaderboard {family}: {len(rows)} rows ranked by {primary[family]}, best {best['model']} "
            f"({primary[family]} {best[primary[family]]:.4f}); champion: {champions[family]['uri']}"
        )
    disk.write_text(paths.LEADERBOARD_MD, to_markdown(tables, primary))
    disk.write_json(paths.CHAMPION, champions)
