"""Classification metrics, including the course's weighted error.

weighted error = Σᵢ wᵢ·[ŷᵢ ≠ yᵢ] / Σᵢ wᵢ, where wᵢ is the weight of example
i's true class: mistakes on a costly class count more. With every weight
equal it is the plain error, 1 − accuracy.

cost error = (1/m) Σᵢ C[yᵢ, ŷᵢ]: the mean cost of the predictions under a
cost matrix over (true, predicted) pairs, 0 on the diagonal and 1 off it
unless ``evaluate.cost_matrix`` says otherwise; with no entries it is the
plain error too.
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
            f"evaluate.class_weights names unknown class {unknown[0]!r} (classes: {', '.join(class_names)})"
        )
    return np.array([float(weights.get(name, 1.0)) for name in class_names])


def selection_costs(evaluate, class_names: list[str]) -> dict[str, list]:
    """The class weights and cost matrix of ``evaluate`` (an EvaluateParams) as the keyword
    arguments ClassificationTask takes, so validation computes the same errors as evaluate."""
    return {
        "class_weights": class_weight_vector(class_names, evaluate.class_weights).tolist(),
        "costs": cost_matrix(class_names, evaluate.cost_matrix).tolist(),
    }


def weighted_error(y_true: np.ndarray, y_pred: np.ndarray, class_weights: np.ndarray) -> float:
    """Σ w[yᵢ]·[ŷᵢ≠yᵢ] / Σ w[yᵢ] over the examples."""
    per_example = class_weights[y_true]
    total = per_example.sum()
    if total <= 0:
        raise ValueError("weighted error is undefined: the examples' class weights sum to 0")
    return float((per_example * (y_true != y_pred)).sum() / total)


def cost_matrix(class_names: list[str], costs: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """C[true, predicted]: 0 on the diagonal, 1 off it, overridden by ``costs[true][predicted]``."""
    index = {name: i for i, name in enumerate(class_names)}
    matrix = 1.0 - np.eye(len(class_names))
    for true, row in costs.items():
        for predicted, cost in row.items():
            for name in (true, predicted):
                if name not in index:
                    raise ConfigError(
                        f"evaluate.cost_matrix names unknown class {name!r} "
                        f"(classes: {', '.join(class_names)})"
                    )
            matrix[index[true], index[predicted]] = float(cost)
    return matrix


def cost_error(y_true: np.ndarray, y_pred: np.ndarray, costs: np.ndarray) -> float:
    """(1/m) Σ C[yᵢ, ŷᵢ]."""
    return float(costs[y_true, y_pred].mean())


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> tuple[float, list[dict]]:
    """ECE = Σ_b (n_b / m)·|accuracy_b − confidence_b| over equal-width confidence bins,
    and the bins themselves (for the reliability diagram)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        if count == 0:
            continue
        accuracy, mean_confidence = float(correct[members].mean()), float(confidence[members].mean())
        ece += count / len(confidence) * abs(accuracy - mean_confidence)
        rows.append(
            {
                "bin_low": round(float(edges[b]), 4),
                "bin_high": round(float(edges[b + 1]), 4),
                "confidence": round(mean_confidence, 6),
                "accuracy": round(accuracy, 6),
                "examples": count,
            }
        )
    return ece, rows


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


def summary_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, class_weights: np.ndarray, costs: np.ndarray | None = None
) -> dict:
    """The single-number metrics, rounded so that equal runs give equal files.

    (No key is called ``error``: `dvc metrics show` takes such a key for a load failure.)
    """
    accuracy = float((y_true == y_pred).mean())
    costs = 1.0 - np.eye(len(class_weights)) if costs is None else costs
    return {
        "examples": int(len(y_true)),
        "accuracy": round(accuracy, 6),
        "error_rate": round(1.0 - accuracy, 6),
        "weighted_error": round(weighted_error(y_true, y_pred, class_weights), 6),
        "cost_error": round(cost_error(y_true, y_pred, costs), 6),
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


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits (numpy, no torch); one logit column means a binary (sigmoid) model."""
    if logits.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - positive, positive], axis=1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
