"""LeNet-5 (LeCun et al., 1998): two conv/pool stages, then three fully connected layers."""

from __future__ import annotations

from torch import Tensor, nn

from dlpipe.training.init import initialize


class LeNet5(nn.Module):
    """LeNet-5 on a 32×32 input; a 28×28 input is zero-padded in the first convolution
    (as for MNIST), larger inputs grow the flattened C5 input.

    ``modern`` uses ReLU and max pooling, the classic variant tanh and average pooling.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: int = 32, modern: bool = True):
        super().__init__()
        activation = nn.ReLU if modern else nn.Tanh
        pool = nn.MaxPool2d if modern else nn.AvgPool2d
        padding = max(0, (32 - image_size + 1) // 2)
        side = ((image_size + 2 * padding - 4) // 2 - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding),  # C1
            activation(),
            pool(2),  # S2
            nn.Conv2d(6, 16, kernel_size=5),  # C3
            activation(),
            pool(2),  # S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120),  # C5
            activation(),
            nn.Linear(120, 84),  # F6
            activation(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def lenet5(in_channels: int, num_classes: int, image_size: int, init: str = "he") -> LeNet5:
    model = LeNet5(in_channels, num_classes, image_size, modern=True)
    initialize(model, init)
    return model


def lenet5_classic(in_channels: int, num_classes: int, image_size: int, init: str = "xavier") -> LeNet5:
    model = LeNet5(in_channels, num_classes, image_size, modern=False)
    initialize(model, init)
    return model
