"""A YOLO v2-style detector (Redmon & Farhadi, 2017, "YOLO9000"), small enough for CPU scenes.

A convolutional backbone (3×3 convolutions, batch norm, leaky ReLU; ``stages`` 2×2 max
pools) makes the S×S grid, S = image_size / 2^stages; a 1×1 convolution predicts, for
each cell and each of its ``anchors`` anchor boxes, (t_x, t_y, t_w, t_h, t_o, c_1 … c_n).
The anchor sizes (p_w, p_h) are a buffer of the network, set from the training boxes
(tasks/detect/anchors.py); it outputs t_w + ln p_w and t_h + ln p_h, so its output
(N × anchors·(5 + classes) × S × S) decodes to boxes without them (tasks/detect/yolo.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dlpipe.models.init import initialize


def _convolution(in_channels: int, channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.LeakyReLU(0.1, inplace=True),
    ]


def backbone(in_channels: int, image_size: int, width: int, stages: int) -> tuple[nn.Sequential, int]:
    """The convolutional stack and its output channels: ``stages`` of a convolution of
    ``width``·2^stage channels and a 2×2 max pool, then one convolution doubling the channels;
    its feature map has stride 2^stages. The two-stage detector (models/faster_rcnn.py) shares it."""
    if image_size % (1 << stages):
        raise ValueError(f"image_size {image_size} is not a multiple of 2^{stages} (stages)")
    layers, channels = [], in_channels
    for stage in range(stages):
        layers += [*_convolution(channels, width << stage), nn.MaxPool2d(2)]
        channels = width << stage
    layers += _convolution(channels, 2 * channels)
    return nn.Sequential(*layers), 2 * channels


class YOLO(nn.Module):
    def __init__(
        self, in_channels: int, classes: int, image_size: int, anchors: int, width: int, stages: int
    ):
        super().__init__()
        self.backbone, channels = backbone(in_channels, image_size, width, stages)
        self.head = nn.Conv2d(channels, anchors * (5 + classes), 1)
        self.anchors, self.classes, self.grid = anchors, classes, image_size >> stages
        self.register_buffer("anchor_sizes", torch.full((anchors, 2), 0.25))  # (w, h), of the image side
        initialize(self, "he")
        # The head starts near "no object anywhere" (p_c = 0.01, the prior of RetinaNet,
        # Lin et al. 2017) with each box its anchor: He-sized outputs would open on a loss
        # in the hundreds from the many empty cells.
        nn.init.normal_(self.head.weight, std=0.01)
        bias = self.head.bias.data.view(anchors, 5 + classes)
        bias.zero_()
        bias[:, 4] = -math.log(99.0)

    def forward(self, x: Tensor) -> Tensor:
        shift = torch.zeros(self.anchors, 5 + self.classes, dtype=x.dtype, device=x.device)
        shift[:, 2:4] = torch.log(self.anchor_sizes)
        return self.head(self.backbone(x)) + shift.view(1, -1, 1, 1)


def yolo(
    in_channels: int, num_classes: int, image_size: int, anchors: int = 3, width: int = 16, stages: int = 3
) -> YOLO:
    """``num_classes``: the object classes (background is the objectness, not a class). Three
    poolings make a 12×12 grid of 96-pixel scenes: on the built-in scenes it beat four (a 6×6
    grid, where digits share cells) by 0.03 test mAP@0.5 (benchmarks/README.md)."""
    return YOLO(in_channels, num_classes, image_size, anchors, width, stages)
