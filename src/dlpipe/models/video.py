"""Networks for clips and volumes, C×D×H×W: a C3D-style network of 3×3×3 convolutions, an
R(2+1)D one from torchvision's video blocks, and a 2-D baseline that sees the frames' average.

All three end in a global average pool, so one network takes clips of any length and size;
the baseline shows what the third dimension adds: it has the 2-D zoo's ConvNet and nothing of
the order of the frames.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D

from dlpipe.models.convnet import convnet
from dlpipe.models.init import initialize


def _head(channels: int, hidden: int, dropout: float, num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(channels, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


class C3D(nn.Module):
    """Tran et al. 2015 in small: stages of a 3×3×3 convolution (batch norm, ReLU) and a pool
    that halves the side; the first pool keeps the frames (1×2×2), as C3D's does, so that motion
    is still there to be seen by the second convolution."""

    def __init__(self, in_channels: int, num_classes: int, widths: list[int], hidden: int, dropout: float):
        super().__init__()
        layers, channels = [], in_channels
        for stage, width in enumerate(widths):
            layers += [
                nn.Conv3d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool3d((1, 2, 2) if stage == 0 else 2, ceil_mode=True),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = _head(channels, hidden, dropout, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class R2Plus1D(nn.Module):
    """Tran et al. 2018: residual blocks whose 3×3×3 convolutions are factored into a 1×3×3
    spatial and a 3×1×1 temporal one (torchvision's ``Conv2Plus1D`` and video ``BasicBlock``),
    with as many parameters as the full 3-D kernel and one more nonlinearity between."""

    def __init__(self, in_channels: int, num_classes: int, widths: list[int], hidden: int, dropout: float):
        super().__init__()
        stem = widths[0]
        self.stem = nn.Sequential(
            # halves the side at once, as torchvision's R2Plus1dStem: full-size blocks took 10x C3D's time
            nn.Conv3d(in_channels, stem, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(stem),
            nn.ReLU(inplace=True),
        )
        blocks, channels = [], stem
        for stage, width in enumerate(widths):
            stride = 1 if stage == 0 else 2
            downsample = None
            if stride != 1 or channels != width:
                downsample = nn.Sequential(
                    nn.Conv3d(channels, width, 1, stride=stride, bias=False), nn.BatchNorm3d(width)
                )
            blocks.append(BasicBlock(channels, width, Conv2Plus1D, stride, downsample))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.classifier = _head(channels, hidden, dropout, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.blocks(self.stem(x)))


class FrameAverage(nn.Module):
    """The frames' mean, then a 2-D ConvNet: everything a clip's average shows, nothing more."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> Tensor:
        return self.network(x.mean(dim=2))


def _initialised(model: nn.Module, init: str) -> nn.Module:
    initialize(model, init)
    return model


def c3d(
    in_channels: int,
    num_classes: int,
    image_size: int,
    widths: list[int] | tuple[int, ...] = (16, 32, 64),
    hidden: int = 128,
    dropout: float = 0.0,
    init: str = "he",
) -> C3D:
    return _initialised(C3D(in_channels, num_classes, list(widths), hidden, dropout), init)


def r2plus1d(
    in_channels: int,
    num_classes: int,
    image_size: int,
    widths: list[int] | tuple[int, ...] = (16, 32, 64),
    hidden: int = 128,
    dropout: float = 0.0,
    init: str = "he",
) -> R2Plus1D:
    return _initialised(R2Plus1D(in_channels, num_classes, list(widths), hidden, dropout), init)


def frame_average(
    in_channels: int,
    num_classes: int,
    image_size: int,
    widths: list[int] | tuple[int, ...] = (16, 32, 64),
    hidden: int = 128,
    dropout: float = 0.0,
    init: str = "he",
) -> FrameAverage:
    return FrameAverage(convnet(in_channels, num_classes, image_size, widths, hidden, dropout, init))
