"""Network in Network (Lin et al., 2013): "mlpconv" blocks of one spatial convolution followed by
two 1×1 convolutions, and global average pooling of one map per class instead of a dense head."""

from __future__ import annotations

from torch import Tensor, nn

from dlpipe.models.init import initialize
from dlpipe.models.layers import scaled


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def mlpconv(in_channels: int, channels: tuple[int, int, int], kernel: int) -> nn.Sequential:
    """k×k convolution, then two 1×1 convolutions: a small MLP slid over every position."""
    first, second, third = channels
    return nn.Sequential(
        conv_bn_relu(in_channels, first, kernel),
        conv_bn_relu(first, second, 1),
        conv_bn_relu(second, third, 1),
    )


class NetworkInNetwork(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, width: float = 1.0, dropout: float = 0.3):
        super().__init__()
        a, b, c = scaled(192, width), scaled(160, width), scaled(96, width)
        self.features = nn.Sequential(
            mlpconv(in_channels, (a, b, c), 5),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Dropout(dropout),
            mlpconv(c, (a, a, a), 5),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Dropout(dropout),
        )
        # The last block's 1×1 convolution emits one map per class, averaged into a logit.
        self.classifier = nn.Sequential(
            conv_bn_relu(a, a, 3),
            conv_bn_relu(a, a, 1),
            nn.Conv2d(a, num_classes, 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def network_in_network(in_channels: int, num_classes: int, image_size: int, width: float = 1.0):
    model = NetworkInNetwork(in_channels, num_classes, width)
    initialize(model, "he")
    return model
