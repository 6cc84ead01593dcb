"""PNG renderings of the DVC plots: `dvc plots show` loads vega from a CDN, blank offline."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from dlpipe import disk  # noqa: E402


def _save(figure: plt.Figure, path: Path) -> None:
    with disk.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def learning_curves(rows: list[dict[str, float]], path: Path, title: str, metric: str = "acc") -> None:
    """Train vs val loss and ``metric`` (the model's primary one) per epoch."""
    epochs = [row["epoch"] for row in rows]
    figure, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "val"):
        loss_axis.plot(epochs, [row.get(f"{split}_loss") for row in rows], marker="o", label=split)
        acc_axis.plot(epochs, [row.get(f"{split}_{metric}") for row in rows], marker="o", label=split)
    loss_axis.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    acc_axis.set(xlabel="epoch", ylabel=metric, title=f"{title}: {metric}")
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


def per_class_bars(per_class: dict[str, dict], path: Path, title: str) -> None:
    """Precision and recall of every class, side by side."""
    names = list(per_class)
    positions = np.arange(len(names))
    figure, axis = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4))
    axis.bar(positions - 0.2, [per_class[n]["precision"] for n in names], width=0.4, label="precision")
    axis.bar(positions + 0.2, [per_class[n]["recall"] for n in names], width=0.4, label="recall")
    axis.set_xticks(positions, names, rotation=45 if len(names) > 10 else 0)
    low = min([per_class[n][k] for n in names for k in ("precision", "recall")], default=0.0)
    axis.set(ylim=(max(0.0, low - 0.05), 1.0), xlabel="class", title=f"{title}: precision and recall")
    axis.grid(alpha=0.3, axis="y")
    axis.legend(loc="lower right")
    figure.tight_layout()
    _save(figure, path)


def precision_recall(curves: dict[str, np.ndarray], recalls: np.ndarray, path: Path, title: str) -> None:
    """One precision-recall curve per class."""
    figure, axis = plt.subplots(figsize=(6, 5))
    for label, precision in curves.items():
        axis.plot(recalls, precision, label=f"{label} (AP {precision.mean():.3f})")
    axis.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left", fontsize=7, ncol=2)
    figure.tight_layout()
    _save(figure, path)


def reliability_diagram(bins: list[dict], ece: float, path: Path, title: str) -> None:
    """Accuracy against confidence per bin; the diagonal is perfect calibration."""
    figure, axis = plt.subplots(figsize=(5, 5))
    widths = [b["bin_high"] - b["bin_low"] for b in bins]
    axis.bar(
        [b["bin_low"] for b in bins],
        [b["accuracy"] for b in bins],
        width=widths,
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label="accuracy",
    )
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axis.scatter(
        [b["confidence"] for b in bins], [b["accuracy"] for b in bins], color="black", s=12, zorder=3
    )
    axis.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence",
        ylabel="accuracy",
        title=f"{title}: reliability (ECE {ece:.4f})",
    )
    axis.legend(loc="upper left")
    figure.tight_layout()
    _save(figure, path)


def worst_mistakes(
    images: np.ndarray, cases: list[dict], class_names: list[str], path: Path, title: str
) -> None:
    """A grid of misclassified test images, most confident mistake first, with true and
    predicted labels. ``cases``: dicts with index, true, predicted, confidence."""
    shown = [
        np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
        for image in images[[c["index"] for c in cases]]
    ]
    titles = [f"{class_names[c['true']]}→{class_names[c['predicted']]}\n{c['confidence']:.2f}" for c in cases]
    picture_grid(
        shown, titles, path, f"{title}: worst test mistakes (true→predicted, confidence)", empty="no mistakes"
    )


_INCHES_PER_CELL = 1.6
_TITLE_POINTS = 7


def picture_grid(
    images: list[np.ndarray],
    titles: list[str],
    path: Path,
    title: str,
    columns: int = 8,
    empty: str = "none",
) -> None:
    """RGB uint8 images (targets and predictions already drawn on them) in a grid, a title over
    each; wide pictures (a clip's frames side by side) get cells as wide. One sheet drawn on one
    axes: an axes per image took 0.7 s to draw 16 of them, the sheet 0.12 s."""
    columns = min(columns, max(1, len(images)))
    rows = max(1, -(-len(images) // columns))
    height = max((image.shape[0] for image in images), default=1)
    width = max((image.shape[1] for image in images), default=1)
    lines = max((text.count("\n") + 1 for text in titles), default=1)
    cell_inches = min(_INCHES_PER_CELL * width / height, 16 / columns)  # a cell's width
    pixels_per_inch = width / cell_inches  # of the images
    band = int(np.ceil(lines * _TITLE_POINTS * 1.5 / 72 * pixels_per_inch))  # a title's height
    gap = max(1, round(0.06 * width))
    cell_width, cell_height = width + gap, height + band
    sheet = np.full((rows * cell_height, columns * cell_width, 3), 255, np.uint8)
    for k, image in enumerate(images):
        top, left = (k // columns) * cell_height + band, (k % columns) * cell_width + gap // 2
        sheet[top : top + image.shape[0], left : left + image.shape[1]] = image[..., :3]
    heading = 0.4  # inches, the figure's title
    size = (sheet.shape[1] / pixels_per_inch, sheet.shape[0] / pixels_per_inch + heading)
    figure = plt.figure(figsize=size)
    axis = figure.add_axes((0.0, 0.0, 1.0, 1.0 - heading / size[1]))
    axis.imshow(sheet, interpolation="nearest")
    axis.axis("off")
    for k, text in enumerate(titles):
        x = (k % columns) * cell_width + gap // 2 + images[k].shape[1] / 2
        y = (k // columns) * cell_height + band - 0.5
        axis.text(x, y, text, ha="center", va="bottom", fontsize=_TITLE_POINTS)
    if not images:
        axis.text(0.5, 0.5, empty, ha="center", va="center", transform=axis.transAxes)
    figure.suptitle(title, fontsize=9)
    _save(figure, path)


def picture_table(
    rows: list[list[np.ndarray]], row_titles: list[str], column_titles: list[str], path: Path, title: str
) -> None:
    """RGB pictures in a table: a title at the left of each row and over each column."""
    height, width = len(rows), max(len(row) for row in rows)
    figure, axes = plt.subplots(height, width, figsize=(1.9 * width, 1.9 * height + 0.5), squeeze=False)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        for side in axis.spines.values():
            side.set_visible(False)
    for r, row in enumerate(rows):
        axes[r, 0].set_ylabel(row_titles[r], fontsize=8)
        for c, picture in enumerate(row):
            axes[r, c].imshow(picture, interpolation="nearest")
    for c, text in enumerate(column_titles):
        axes[0, c].set_title(text, fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    _save(figure, path)


def distance_histograms(
    same: np.ndarray, different: np.ndarray, threshold: float, path: Path, title: str
) -> None:
    """The distances of same and different pairs, as densities, and the acceptance threshold."""
    figure, axis = plt.subplots(figsize=(6, 4))
    bins = np.linspace(
        0, max(float(same.max(initial=0)), float(different.max(initial=0)), threshold) * 1.02, 60
    )
    axis.hist(different, bins=bins, density=True, alpha=0.6, label=f"different ({len(different):,} pairs)")
    axis.hist(same, bins=bins, density=True, alpha=0.6, label=f"same ({len(same):,} pairs)")
    axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    axis.set(xlabel="distance between embeddings", ylabel="density", title=title)
    axis.legend()
    figure.tight_layout()
    _save(figure, path)


def embedding_map(points: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    """2-D points coloured by label, each label's name at its points' centre."""
    figure, axis = plt.subplots(figsize=(6, 6))
    for k, label in enumerate(dict.fromkeys(labels)):
        mine = points[np.array(labels) == label]
        axis.scatter(mine[:, 0], mine[:, 1], s=12, color=plt.cm.tab20(k % 20), alpha=0.8)
        axis.annotate(label, mine.mean(axis=0), fontsize=9, weight="bold")
    axis.set(xlabel="first principal axis", ylabel="second principal axis", title=title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    _save(figure, path)


def roc_curve(far: np.ndarray, tar: np.ndarray, marks: dict[str, float], path: Path, title: str) -> None:
    """TAR against FAR on a log FAR axis (where deployments operate), with the operating points
    ``marks`` (a label: its FAR) drawn on the curve."""
    figure, axis = plt.subplots(figsize=(6, 4))
    shown = far > 0
    axis.plot(far[shown], tar[shown], label="ROC")
    for label, rate in marks.items():
        reached = float(tar[far <= rate].max())
        axis.plot([rate], [reached], "o", label=f"{label}: TAR {reached:.3f}")
    axis.set(xscale="log", xlabel="false accept rate", ylabel="true accept rate", title=title, ylim=(0, 1.02))
    axis.grid(alpha=0.3, which="both")
    axis.legend(loc="lower right")
    figure.tight_layout()
    _save(figure, path)


def one_shot_episodes(
    rows: list[tuple[np.ndarray, list[np.ndarray], int, int]], path: Path, title: str
) -> None:
    """One-shot episodes, one a row: the query, then the supports; the nearest support (the
    answer) framed green when it is the query's identity and red when not, the right one
    marked "true". ``rows``: (query, supports, answer, right) with RGB or grey images."""
    width = 1 + max(len(supports) for _, supports, _, _ in rows)
    figure, axes = plt.subplots(len(rows), width, figsize=(1.2 * width, 1.3 * len(rows) + 0.5), squeeze=False)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        for side in axis.spines.values():
            side.set_visible(False)
    for r, (query, supports, answer, right) in enumerate(rows):
        for c, image in enumerate([query, *supports]):
            axis = axes[r, c]
            grey = image.shape[-1] == 1
            axis.imshow(image[..., 0] if grey else image, cmap="gray", interpolation="nearest")
            if c and c - 1 == answer:
                for side in axis.spines.values():
                    side.set_visible(True)
                    side.set_color("green" if answer == right else "red")
                    side.set_linewidth(3)
            if c and c - 1 == right:
                axis.set_xlabel("true", fontsize=7)
        axes[r, 0].set_ylabel("query", fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    _save(figure, path)
