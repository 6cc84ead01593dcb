"""Weight initialisation: He for ReLU networks, Xavier for tanh/sigmoid ones."""

from __future__ import annotations

from typing import Literal

from torch import nn

Scheme = Literal["he", "xavier"]


def initialize(model: nn.Module, scheme: Scheme) -> None:
    """Initialise every conv and linear weight with ``scheme``; biases start at zero."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            if scheme == "he":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
