"""Weight initialisation: He for ReLU networks, Xavier for tanh/sigmoid ones."""

from __future__ import annotations

from torch import nn


def initialize(model: nn.Module, scheme: str) -> None:
    """Initialise every conv and linear weight with ``scheme``; biases start at zero, BN at identity."""
    if scheme not in ("he", "xavier"):
        raise ValueError(f"unknown init {scheme!r} (known: he, xavier)")
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Conv3d | nn.Linear):
            if scheme == "he":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def zero_last_layer(model: nn.Module, bias: float) -> None:
    """Zero the weights of the network's last linear or convolutional layer and fill its biases
    with ``bias``: a regression head then starts at one chosen output for every input."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)][-1]
    nn.init.zeros_(last.weight)
    if last.bias is not None:
        nn.init.constant_(last.bias, bias)
