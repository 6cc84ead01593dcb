"""A plain ConvNet: stages of two 3×3 convolutions (batch norm, ReLU) and a 2×2 max pool, then a
fully connected head on the flattened feature map.

The course's CONV-POOL-CONV-POOL-FC-FC pattern in VGG's 3×3 style. Its head sees *where* each
feature lies, which the global-average-pooled heads of the deeper zoo networks throw away: it is
the backbone the localisation and landmark families ship with, since both regress positions.
"""

from __future__ import annotations

from torch import Tensor, nn

from dlpipe.models.init import initialize


def _stage(in_channels: int, channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    ]


class ConvNet(nn.Module):
    """``len(widths)`` stages halve the side; the head is Linear(flattened, hidden), ReLU,
    dropout, Linear(hidden, num_classes)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int,
        widths: list[int],
        hidden: int,
        dropout: float,
    ):
        super().__init__()
        side = image_size >> len(widths)
        if side < 1:
            raise ValueError(f"{len(widths)} stages halve a {image_size}-pixel image below one pixel")
        layers, channels = [], in_channels
        for width in widths:
            layers += _stage(channels, width)
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def convnet(
    in_channels: int,
    num_classes: int,
    image_size: int,
    widths: list[int] | tuple[int, ...] = (32, 64, 128),
    hidden: int = 256,
    dropout: float = 0.0,
    init: str = "he",
) -> ConvNet:
    model = ConvNet(in_channels, num_classes, image_size, list(widths), hidden, dropout)
    initialize(model, init)
    return model
