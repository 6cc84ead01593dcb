"""How ``dlpipe predict`` shows landmarks: each named point as shares of the image width and height."""

from __future__ import annotations

import numpy as np


def show(points: np.ndarray, names: list[str], top: int, arch: str) -> str:
    """``top_left (0.12, 0.20), top_right (...)``: (x, y) as shares of the image width and height."""
    pairs = points.reshape(-1, 2)
    return ", ".join(f"{name} ({x:.3f}, {y:.3f})" for name, (x, y) in zip(names, pairs, strict=True))
