"""Fully connected networks: one hidden layer (shallow) or L hidden layers (deep)."""

from __future__ import annotations

from torch import Tensor, nn

from dlpipe.models.init import initialize
from dlpipe.models.layers import activation_layer, default_init


class MLP(nn.Module):
    """Flatten, then Linear (+ batch norm) + activation + dropout for every width in
    ``hidden``, then the output layer."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: list[int],
        activation: str,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for units in hidden:
            layers.append(nn.Linear(width, units, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers += [activation_layer(activation), nn.Dropout(dropout)]
            width = units
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def _mlp(in_channels, num_classes, image_size, hidden, activation, init, dropout, batch_norm):
    model = MLP(
        in_channels * image_size * image_size, num_classes, list(hidden), activation, dropout, batch_norm
    )
    initialize(model, init or default_init(activation))
    return model


def shallow_mlp(
    in_channels: int,
    num_classes: int,
    image_size: int,
    hidden: int = 256,
    activation: str = "relu",
    init: str | None = None,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> MLP:
    return _mlp(in_channels, num_classes, image_size, [hidden], activation, init, dropout, batch_norm)


def deep_mlp(
    in_channels: int,
    num_classes: int,
    image_size: int,
    hidden: tuple[int, ...] = (512, 256, 128),
    activation: str = "relu",
    init: str | None = None,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> MLP:
    if not hidden:
        raise ValueError("a deep MLP needs at least one hidden layer")
    return _mlp(in_channels, num_classes, image_size, hidden, activation, init, dropout, batch_norm)
