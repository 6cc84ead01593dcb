"""YIQ: luminance Y apart from chroma I, Q, for luminance-only transfer and the judge."""

from __future__ import annotations

import torch

_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.59590059, -0.27455667, -0.32134392], [0.21153661, -0.52273617, 0.31119955]]
)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """1x3xHxW RGB -> 1x3xHxW YIQ (the NTSC matrix scikit-image uses)."""
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YIQ.to(image), image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """The exact inverse of ``rgb_to_yiq`` (no clamping)."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YIQ.double()).to(image), image)
