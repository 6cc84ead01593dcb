"""How ``dlpipe predict`` shows an embedding: its width and first values (``dlpipe identify``
compares it with the enrolled identities)."""

from __future__ import annotations

import numpy as np


def show(embedding: np.ndarray, names: list[str], top: int, arch: str) -> str:
    shown = ", ".join(f"{value:.3f}" for value in embedding[:top])
    return f"embedding of {len(embedding)} values, length {np.linalg.norm(embedding):.3f}: {shown}, ..."
