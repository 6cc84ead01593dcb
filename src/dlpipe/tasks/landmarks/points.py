"""Landmark scores (torch only).

With points normalised by the image side, the distance between a predicted and
a true point is already a share of the image size:

- NME  = mean over images and points of ‖p̂ − p‖₂ (normalised mean error);
- PCK@t = share of points with ‖p̂ − p‖₂ ≤ t (percentage of correct keypoints).
"""

from __future__ import annotations

from torch import Tensor


def distances(outputs: Tensor, targets: Tensor) -> Tensor:
    """N×K distances between predicted and true points (rows x_1, y_1, ..., x_K, y_K)."""
    return (outputs.view(len(outputs), -1, 2) - targets.view(len(targets), -1, 2)).norm(dim=2)


def score_sums(outputs: Tensor, targets: Tensor, threshold: float) -> dict[str, Tensor]:
    gaps = distances(outputs, targets)
    return {
        "distance": gaps.sum(),
        "correct": (gaps <= threshold).sum().to(outputs.dtype),
        "points": outputs.new_tensor(gaps.numel()),
    }


def scores(sums: dict[str, Tensor]) -> dict[str, Tensor]:
    return {"nme": sums["distance"] / sums["points"], "pck": sums["correct"] / sums["points"]}
