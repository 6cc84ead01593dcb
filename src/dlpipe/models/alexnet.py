"""AlexNet (Krizhevsky et al., 2012): five convolutions, three fully connected layers, dropout.

At 224×224 this is torchvision's definition. Smaller inputs get the same
five-conv/three-FC shape scaled down: 3×3 kernels, no stride-4 stem, and a
1024-unit head instead of 4096 (the ImageNet head would dwarf the features).
"""

from __future__ import annotations

import torchvision
from torch import Tensor, nn

from dlpipe.models.init import initialize
from dlpipe.models.layers import replace_first_conv, scaled

IMAGENET_SIZE = 224


class SmallAlexNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, width: float = 1.0, dropout: float = 0.5):
        super().__init__()
        c1, c2, c3, c4 = (scaled(c, width) for c in (64, 192, 384, 256))
        hidden = scaled(1024, width)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c4, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c4 * 9, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def alexnet(in_channels: int, num_classes: int, image_size: int, width: float = 1.0, init: str = "he"):
    if image_size >= IMAGENET_SIZE and width == 1.0:
        model = torchvision.models.alexnet(weights=None, num_classes=num_classes)
        model.features[0] = replace_first_conv(model.features[0], in_channels)
    else:
        model = SmallAlexNet(in_channels, num_classes, width)
    initialize(model, init)
    return model
