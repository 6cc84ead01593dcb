"""Inception-v1 / GoogLeNet (Szegedy et al., 2014): torchvision's definition, with the two
auxiliary classifiers that the paper weights into the training loss.

In training mode the model returns (logits, aux2, aux1); in eval mode, and
so in evaluation and export, only the logits. torchvision's pools round up,
so every input from 28×28 keeps a map of at least 1×1.
"""

from __future__ import annotations

import torchvision
from torchvision.models.googlenet import BasicConv2d


def googlenet(in_channels: int, num_classes: int, image_size: int, aux_logits: bool = True):
    model = torchvision.models.GoogLeNet(
        num_classes=num_classes, aux_logits=aux_logits, transform_input=False, init_weights=True
    )
    if in_channels != 3:
        model.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
    return model
