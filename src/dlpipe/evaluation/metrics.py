"""Classification metrics, including the course's weighted error.

weighted error = Σᵢ wᵢ·[ŷᵢ ≠ yᵢ] / Σᵢ wᵢ, where wᵢ is the weight of example
i's true class: mistakes on a costly class count more. With every weight
equal it is the plain error, 1 − accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dlpipe.errors import ConfigError


def class_weight_vector(class_names: list[str], weights: Mapping[str, float]) -> np.ndarray:
    """Per-class weights in class order; classes not named weigh 1."""
    unknown = sorted(set(weights) - set(class_names))
    if unknown:
        raise ConfigError(
            f"params.yaml: evaluate.class_weights names unknown class {unknown[0]!r} "
            f"(classes: {', '.join(class_names)})"
        )
    return np.array([float(weights.get(name, 1.0)) for name in class_names])


def weighted_error(y_true: np.ndarray, y_pred: np.ndarray, class_weights: np.ndarray) -> float:
    """Σ w[yᵢ]·[ŷᵢ≠yᵢ] / Σ w[yᵢ] over the examples."""
    per_example = class_weights[y_true]
    total = per_example.sum()
    if total <= 0:
        raise ValueError("weighted error is undefined: the examples' class weights sum to 0")
    return float((per_example * (y_true != y_pred)).sum() / total)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def precision_recall(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision (of predictions) and recall (of true examples); 0 where undefined."""
    hits = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    return precision, recall


def summary_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_weights: np.ndarray) -> dict:
    """The single-number metrics, rounded so that equal runs give equal files.

    (No key is called ``error``: `dvc metrics show` takes such a key for a load failure.)
    """
    accuracy = float((y_true == y_pred).mean())
    return {
        "examples": int(len(y_true)),
        "accuracy": round(accuracy, 6),
        "error_rate": round(1.0 - accuracy, 6),
        "weighted_error": round(weighted_error(y_true, y_pred, class_weights), 6),
    }


def per_class_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], class_weights: np.ndarray
) -> dict:
    """Precision, recall, support and the weight used, for every class."""
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    precision, recall = precision_recall(matrix)
    return {
        name: {
            "precision": round(float(precision[i]), 6),
            "recall": round(float(recall[i]), 6),
            "support": int(matrix[i].sum()),
            "weight": float(class_weights[i]),
        }
        for i, name in enumerate(class_names)
    }
