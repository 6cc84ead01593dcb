"""Architecture name -> builder, without importing torch.

The config validates ``models:`` against these names in stages that must not
pay torch's import time, so builders are named as ``module:function`` and
imported only when a model is built. A new architecture is a new model file
and one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

ARCHITECTURES: dict[str, str] = {
    "lenet5": "dlpipe.models.lenet:lenet5",
}


def build_model(name: str, in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    """Instantiate architecture ``name`` for the given input shape and class count."""
    module_name, function_name = ARCHITECTURES[name].split(":")
    builder = getattr(importlib.import_module(module_name), function_name)
    return builder(in_channels=in_channels, num_classes=num_classes, image_size=image_size)
