"""Residual networks (He et al., 2015) from torchvision's ``BasicBlock``.

- ResNet-20/56: the CIFAR family, three stages of (depth − 2) / 6 blocks at 16, 32, 64 channels;
  ``shortcuts=False`` gives the paper's "plain" network of the same layers, whose training
  error grows with depth where the residual one's does not.
- ResNet-18: torchvision's definition at 224×224; smaller inputs swap the 7×7 stride-2 stem and
  max-pool for a 3×3 stride-1 stem, as for CIFAR, so a 32×32 map is not 1×1 by the last stage.
"""

from __future__ import annotations

import torchvision
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from dlpipe.models.init import initialize
from dlpipe.models.layers import replace_first_conv, scaled

IMAGENET_SIZE = 224


class PlainBlock(BasicBlock):
    """BasicBlock's two 3×3 convolutions without the shortcut."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


def _stage(in_planes: int, planes: int, blocks: int, stride: int, shortcuts: bool = True) -> nn.Sequential:
    block = BasicBlock if shortcuts else PlainBlock
    downsample = None
    if shortcuts and (stride != 1 or in_planes != planes):
        downsample = nn.Sequential(
            nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
        )
    layers = [block(in_planes, planes, stride, downsample)]
    layers += [block(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class SmallResNet(nn.Module):
    """3×3 stem, then one stage per width (the first at stride 1, the rest at stride 2)."""

    def __init__(
        self, in_channels: int, num_classes: int, widths: list[int], blocks: list[int], shortcuts: bool = True
    ):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages, in_planes = [], widths[0]
        for i, (planes, count) in enumerate(zip(widths, blocks, strict=True)):
            stages.append(_stage(in_planes, planes, count, 1 if i == 0 else 2, shortcuts))
            in_planes = planes
        self.stages = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.stages(self.stem(x)))
        return self.fc(x.flatten(1))


def _zero_last_bn(model: nn.Module) -> None:
    """Each residual branch starts as identity: the usual trick that makes deep ResNets train fast."""
    for module in model.modules():
        if isinstance(module, BasicBlock):
            nn.init.zeros_(module.bn2.weight)


def cifar_resnet(
    in_channels: int, num_classes: int, depth: int, width: float = 1.0, shortcuts: bool = True
) -> SmallResNet:
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n + 2 (got {depth})")
    n = (depth - 2) // 6
    widths = [scaled(c, width) for c in (16, 32, 64)]
    model = SmallResNet(in_channels, num_classes, widths, [n, n, n], shortcuts)
    initialize(model, "he")
    if shortcuts:  # a plain block with a zero scale would pass nothing on
        _zero_last_bn(model)
    return model


def resnet20(in_channels: int, num_classes: int, image_size: int, width: float = 1.0) -> SmallResNet:
    return cifar_resnet(in_channels, num_classes, 20, width)


def resnet56(in_channels: int, num_classes: int, image_size: int, width: float = 1.0) -> SmallResNet:
    return cifar_resnet(in_channels, num_classes, 56, width)


def resnet18(in_channels: int, num_classes: int, image_size: int, width: float = 1.0) -> nn.Module:
    if image_size >= IMAGENET_SIZE and width == 1.0:
        model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
        model.conv1 = replace_first_conv(model.conv1, in_channels)
        initialize(model, "he")
    else:
        widths = [scaled(c, width) for c in (64, 128, 256, 512)]
        model = SmallResNet(in_channels, num_classes, widths, [2, 2, 2, 2])
        initialize(model, "he")
    _zero_last_bn(model)
    return model
