"""Anchor boxes chosen by k-means on the training boxes' sizes, with d = 1 − IoU (YOLO v2).

Only a box's size matters to its anchor, so two sizes are compared as boxes sharing a
centre:

    IoU((w₁, h₁), (w₂, h₂)) = min(w₁, w₂)·min(h₁, h₂) / (w₁h₁ + w₂h₂ − min(w₁, w₂)·min(h₁, h₂))

Euclidean distance on (w, h) would let large boxes dominate (4 pixels off is nothing on a
60-pixel box and everything on an 8-pixel one); 1 − IoU weighs each box by its shape. The
centres start by k-means++ under the same distance (seeded), move to their members' mean
and stop when no box changes cluster.
"""

from __future__ import annotations

import numpy as np

from dlpipe.errors import DataError


def size_iou(sizes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """N×K IoU of N (w, h) sizes with K anchor sizes, all centred alike."""
    overlap = np.minimum(sizes[:, None, 0], anchors[None, :, 0]) * np.minimum(
        sizes[:, None, 1], anchors[None, :, 1]
    )
    areas = sizes[:, 0] * sizes[:, 1]
    return overlap / (areas[:, None] + (anchors[:, 0] * anchors[:, 1])[None, :] - overlap)


def _initial(sizes: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: each next centre drawn with probability ∝ (1 − IoU with the nearest chosen)²."""
    centres = [sizes[rng.integers(len(sizes))]]
    for _ in range(1, k):
        distance = 1.0 - size_iou(sizes, np.array(centres)).max(axis=1)
        weights = distance**2
        total = weights.sum()
        chosen = rng.choice(len(sizes), p=weights / total) if total > 0 else rng.integers(len(sizes))
        centres.append(sizes[chosen])
    return np.array(centres, dtype=np.float64)


def kmeans_anchors(sizes: np.ndarray, k: int, seed: int, iterations: int = 300) -> tuple[np.ndarray, float]:
    """``k`` anchor sizes (K×2, smallest area first) for the N×2 box ``sizes`` (w, h > 0), and the
    mean IoU of each box with its best anchor (how well the anchors fit)."""
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    if not 1 <= k <= len(sizes):
        raise DataError(f"anchors: {k} anchors asked of {len(sizes)} training boxes")
    if (sizes <= 0).any():
        raise DataError("anchors: every box needs a width and height > 0")
    rng = np.random.default_rng(seed)
    centres = _initial(sizes, k, rng)
    assignment = None
    for _ in range(iterations):
        nearest = size_iou(sizes, centres).argmax(axis=1)
        if assignment is not None and (nearest == assignment).all():
            break
        assignment = nearest
        for cluster in range(k):
            members = sizes[assignment == cluster]
            if len(members):  # an emptied cluster keeps its centre
                centres[cluster] = members.mean(axis=0)
    order = np.argsort(centres[:, 0] * centres[:, 1], kind="stable")
    anchors = centres[order]
    return anchors, float(size_iou(sizes, anchors).max(axis=1).mean())
