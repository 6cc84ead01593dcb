"""How ``dlpipe predict`` shows a classification: the top classes and their probabilities."""

from __future__ import annotations

import numpy as np

from dlpipe.evaluation.metrics import probabilities


def show(logits: np.ndarray, names: list[str], top: int, arch: str) -> str:
    """``3 (3 0.9812, 8 0.0101, ...)`` from one image's logits."""
    row = probabilities(logits[None, :])[0]
    order = np.argsort(-row, kind="stable")[:top]
    shown = ", ".join(f"{names[i]} {row[i]:.4f}" for i in order)
    return f"{names[order[0]]} ({shown})"
