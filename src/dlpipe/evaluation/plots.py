"""PNG renderings of the DVC plots: `dvc plots show` loads vega from a CDN, blank offline."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from dlpipe import io  # noqa: E402


def _save(figure: plt.Figure, path: Path) -> None:
    with io.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def learning_curves(rows: list[dict[str, float]], path: Path, title: str) -> None:
    """Train vs val loss and accuracy per epoch."""
    epochs = [row["epoch"] for row in rows]
    figure, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "val"):
        loss_axis.plot(epochs, [row.get(f"{split}_loss") for row in rows], marker="o", label=split)
        acc_axis.plot(epochs, [row.get(f"{split}_acc") for row in rows], marker="o", label=split)
    loss_axis.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    acc_axis.set(xlabel="epoch", ylabel="accuracy", title=f"{title}: accuracy")
    for axis in (loss_axis, acc_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    _save(figure, path)


def confusion_matrix(matrix: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """Counts of (true, predicted) pairs, true classes as rows."""
    size = max(4.0, 0.5 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45 if len(class_names) > 10 else 0)
    axis.set_yticks(ticks, class_names)
    axis.set(xlabel="predicted", ylabel="true", title=f"{title}: confusion matrix")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        color = "white" if count > threshold else "black"
        axis.text(col, row, str(count), ha="center", va="center", color=color, fontsize=8)
    figure.tight_layout()
    _save(figure, path)
