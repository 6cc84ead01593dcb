"""How ``dlpipe predict`` shows a localisation: the class and box, or that there is none."""

from __future__ import annotations

import numpy as np

from dlpipe.evaluation.metrics import probabilities


def show(outputs: np.ndarray, names: list[str], top: int, arch: str) -> str:
    """``7 (p_c 0.99; box centre 0.41 0.52, height 0.30, width 0.21; 7 0.97, 1 0.02)``."""
    present = 1.0 / (1.0 + np.exp(-outputs[0]))
    if present <= 0.5:
        return f"no object (p_c {present:.2f})"
    bx, by, bh, bw = 1.0 / (1.0 + np.exp(-outputs[1:5]))  # the box is the sigmoid of its outputs
    row = probabilities(outputs[None, 5:])[0]
    order = np.argsort(-row, kind="stable")[:top]
    shown = ", ".join(f"{names[i]} {row[i]:.2f}" for i in order)
    return (
        f"{names[order[0]]} (p_c {present:.2f}; box centre {bx:.2f} {by:.2f}, height {bh:.2f}, "
        f"width {bw:.2f}; {shown})"
    )
