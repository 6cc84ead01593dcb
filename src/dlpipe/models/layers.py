"""Small pieces shared by the model families."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
}


def activation_layer(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


def default_init(activation: str) -> str:
    """He initialisation suits ReLU-like units, Xavier suits tanh and sigmoid."""
    return "he" if activation in {"relu", "leaky_relu"} else "xavier"


def scaled(channels: int, width: float) -> int:
    """``channels`` times a width multiplier, at least 4."""
    return max(4, int(round(channels * width)))


def replace_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """The same convolution for another number of input channels (torchvision models are RGB)."""
    if conv.in_channels == in_channels:
        return conv
    return nn.Conv2d(
        in_channels,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )
