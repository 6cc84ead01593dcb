"""Architecture name -> builder, without importing torch.

The config validates ``models:`` against these names in stages that must not
pay torch's import time, so builders are named as ``module:function`` and
imported only when a model is built. A new architecture is a new model file
and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

ARCHITECTURES: dict[str, str] = {
    "logreg": "dlpipe.models.linear:logistic_regression",
    "mlp_shallow": "dlpipe.models.mlp:shallow_mlp",
    "mlp_deep": "dlpipe.models.mlp:deep_mlp",
    "lenet5": "dlpipe.models.lenet:lenet5",
    "lenet5_classic": "dlpipe.models.lenet:lenet5_classic",
    "convnet": "dlpipe.models.convnet:convnet",
    "alexnet": "dlpipe.models.alexnet:alexnet",
    "vgg16": "dlpipe.models.vgg:vgg16",
    "vgg16_bn": "dlpipe.models.vgg:vgg16_bn",
    "resnet20": "dlpipe.models.resnet:resnet20",
    "resnet56": "dlpipe.models.resnet:resnet56",
    "resnet18": "dlpipe.models.resnet:resnet18",
    "nin": "dlpipe.models.nin:network_in_network",
    "inception": "dlpipe.models.inception:googlenet",
    "yolo": "dlpipe.models.yolo:yolo",
    "sliding_window": "dlpipe.models.sliding_window:sliding_window",
    "faster_rcnn": "dlpipe.models.faster_rcnn:faster_rcnn",
    "c3d": "dlpipe.models.video:c3d",
    "r2plus1d": "dlpipe.models.video:r2plus1d",
    "frame_average": "dlpipe.models.video:frame_average",
}
# Architectures whose output is a grid of boxes: the detect family's, and only its.
DETECTORS = frozenset({"yolo", "sliding_window", "faster_rcnn"})
# Architectures of C×D×H×W inputs: the clips family's, and only its.
VIDEO = frozenset({"c3d", "r2plus1d", "frame_average"})
# The families that take only architectures of their own, and those.
OWN_ARCHITECTURES = {"detect": DETECTORS, "clips": VIDEO}


def builder(name: str) -> Callable[..., nn.Module]:
    module_name, function_name = ARCHITECTURES[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def build_model(
    name: str, in_channels: int, outputs: int, image_size: int, options: dict[str, Any] | None = None
) -> nn.Module:
    """Instantiate architecture ``name`` for the input shape with ``outputs`` raw outputs: one
    logit per class for classification, the family's target vector for the others (the
    builders' ``num_classes`` is the width of their last layer).

    ``options`` are the builder's own keywords (width, hidden, activation, init...).
    """
    return builder(name)(
        in_channels=in_channels, num_classes=outputs, image_size=image_size, **(options or {})
    )


def check_options(arch: str, options: dict[str, Any], key: str) -> None:
    """Raise ConfigError naming ``key.option`` when the builder takes no such keyword."""
    import inspect

    from dlpipe.errors import ConfigError

    accepted = set(inspect.signature(builder(arch)).parameters) - {"in_channels", "num_classes", "image_size"}
    for option in options:
        if option not in accepted:
            raise ConfigError(
                f"{key}.{option} is not an option of {arch} "
                f"(options: {', '.join(sorted(accepted)) or 'none'})"
            )
