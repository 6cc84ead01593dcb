"""VGG-16 (Simonyan & Zisserman, 2014), configuration D, with or without batch norm.

At 224×224 this is torchvision's definition (138M parameters, most in the
4096-unit head). Smaller inputs use torchvision's same feature layers, skip
the poolings that would shrink the map below 1×1, and end in a classifier sized
for the 512 features, as in the CIFAR versions of VGG.
"""

from __future__ import annotations

import torchvision
from torch import Tensor, nn
from torchvision.models.vgg import cfgs, make_layers

from dlpipe.models.init import initialize
from dlpipe.models.layers import replace_first_conv, scaled

IMAGENET_SIZE = 224


def small_config(image_size: int, width: float) -> list[int | str]:
    """Configuration D with widths scaled and only the poolings that keep the map ≥ 1×1."""
    config: list[int | str] = []
    side = image_size
    for layer in cfgs["D"]:
        if layer == "M":
            if side >= 2:
                config.append("M")
                side //= 2
        else:
            config.append(scaled(int(layer), width))
    return config


class SmallVGG(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, image_size: int, batch_norm: bool, width: float):
        super().__init__()
        config = small_config(image_size, width)
        self.features = make_layers(config, batch_norm=batch_norm)
        self.features[0] = replace_first_conv(self.features[0], in_channels)
        channels = [c for c in config if c != "M"][-1]
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(channels, channels),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(channels, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def _vgg16(in_channels, num_classes, image_size, batch_norm, width, init):
    if image_size >= IMAGENET_SIZE and width == 1.0:
        build = torchvision.models.vgg16_bn if batch_norm else torchvision.models.vgg16
        model = build(weights=None, num_classes=num_classes)
        model.features[0] = replace_first_conv(model.features[0], in_channels)
    else:
        model = SmallVGG(in_channels, num_classes, image_size, batch_norm, width)
    initialize(model, init)
    return model


def vgg16(in_channels: int, num_classes: int, image_size: int, width: float = 1.0, init: str = "he"):
    return _vgg16(in_channels, num_classes, image_size, False, width, init)


def vgg16_bn(in_channels: int, num_classes: int, image_size: int, width: float = 1.0, init: str = "he"):
    return _vgg16(in_channels, num_classes, image_size, True, width, init)
