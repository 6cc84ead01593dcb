"""LeNet-5 (LeCun et al., 1998): two conv/pool stages, then three fully connected layers."""

from __future__ import annotations

from torch import Tensor, nn

from dlpipe.models.init import initialize


class LeNet5(nn.Module):
    """LeNet-5 on a 32×32 input; a 28×28 input is zero-padded in the first convolution
    (as for MNIST), larger inputs grow the flattened C5 input.

    ``modern`` uses ReLU and max pooling, the classic variant tanh and average pooling.
    ``batch_norm`` adds batch norm after C1 and C3; ``dropout`` drops C5's and F6's
    outputs (0 by default, as in the paper).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int = 32,
        modern: bool = True,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        activation = nn.ReLU if modern else nn.Tanh
        pool = nn.MaxPool2d if modern else nn.AvgPool2d
        padding = max(0, (32 - image_size + 1) // 2)
        side = ((image_size + 2 * padding - 4) // 2 - 4) // 2

        def norm(channels: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(channels)] if batch_norm else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding, bias=not batch_norm),  # C1
            *norm(6),
            activation(),
            pool(2),  # S2
            nn.Conv2d(6, 16, kernel_size=5, bias=not batch_norm),  # C3
            *norm(16),
            activation(),
            pool(2),  # S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120),  # C5
            activation(),
            nn.Dropout(dropout),
            nn.Linear(120, 84),  # F6
            activation(),
            nn.Dropout(dropout),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def lenet5(
    in_channels: int,
    num_classes: int,
    image_size: int,
    init: str = "he",
    batch_norm: bool = False,
    dropout: float = 0.0,
) -> LeNet5:
    model = LeNet5(in_channels, num_classes, image_size, modern=True, batch_norm=batch_norm, dropout=dropout)
    initialize(model, init)
    return model


def lenet5_classic(in_channels: int, num_classes: int, image_size: int, init: str = "xavier") -> LeNet5:
    model = LeNet5(in_channels, num_classes, image_size, modern=False)
    initialize(model, init)
    return model
