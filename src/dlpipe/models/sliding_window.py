"""A window classifier and its convolutional form (Sermanet et al., 2014, OverFeat; the notes'
14×14 → 16×16 example).

``WindowClassifier`` scores one ``window``×``window`` crop: two valid convolutions with
max pooling, then three fully connected layers, to ``num_classes`` logits (the digits and
background). Sliding it over a scene at a stride means one forward pass per crop, and
neighbouring crops recompute the same features.

``convolutional(classifier)`` is the same network with its fully connected layers turned into
convolutions (the first: a kernel as large as its input feature map; the others: 1×1), the
weights copied. On a whole scene it returns, in one pass, a score map whose cell (i, j) is
the classifier's output on the crop at (STRIDE·i, STRIDE·j): the overlapping crops share
their convolutions. ``WindowClassifier.score_map`` is that pass with the classifier's own
weights (for a network that trains them).

``SlidingWindowDetector`` slides a classifier of the digits and background over a scene
at several window sizes (an image pyramid: the scene resized so that each size becomes
``window`` pixels), in the convolutional form, and outputs every window's box beside its
logits. It learns from crops (tasks/detect/windows.py).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn import functional as F

STRIDE = 4  # two 2×2 poolings


class WindowClassifier(nn.Module):
    """Logits of a ``window``×``window`` crop; ``window`` a multiple of 4, at least 20."""

    def __init__(
        self, in_channels: int, num_classes: int, window: int = 28, width: int = 16, hidden: int = 128
    ):
        super().__init__()
        if window % STRIDE or window < 20:
            raise ValueError(f"window must be a multiple of {STRIDE} and at least 20 (got {window})")
        self.window = window
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.side = ((window - 4) // 2 - 2) // 2  # of the feature map the first dense layer sees
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * self.side * self.side, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    def score_map(self, x: Tensor) -> Tensor:
        """The convolutional pass of ``convolutional(self)``, with this classifier's weights."""
        out = self.features(x)
        linear = [layer for layer in self.classifier if isinstance(layer, nn.Linear)]
        first = linear[0].weight.view(len(linear[0].weight), out.shape[1], self.side, self.side)
        out = F.conv2d(out, first, linear[0].bias)
        for layer in linear[1:]:
            out = F.conv2d(F.relu(out), layer.weight[:, :, None, None], layer.bias)
        return out


class ScoreMap(nn.Module):
    """A WindowClassifier as convolutions: N×C×H×W scenes -> N×classes×⌊(H−window)/4⌋+1×⌊(W−window)/4⌋+1."""

    def __init__(self, features: nn.Sequential, dense: nn.Sequential):
        super().__init__()
        self.features, self.dense = features, dense

    def forward(self, x: Tensor) -> Tensor:
        return self.dense(self.features(x))


def _as_convolution(layer: nn.Linear, in_channels: int, kernel: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, layer.out_features, kernel_size=kernel)
    conv.weight.data.copy_(layer.weight.data.view(layer.out_features, in_channels, kernel, kernel))
    conv.bias.data.copy_(layer.bias.data)
    return conv


def convolutional(classifier: WindowClassifier) -> ScoreMap:
    """The classifier's fully connected layers as convolutions, sharing nothing with it."""
    linear = [layer for layer in classifier.classifier if isinstance(layer, nn.Linear)]
    channels = linear[0].in_features // (classifier.side * classifier.side)
    dense: list[nn.Module] = [_as_convolution(linear[0], channels, classifier.side)]
    for layer in linear[1:]:
        dense += [nn.ReLU(), _as_convolution(layer, layer.in_features, 1)]
    return ScoreMap(copy.deepcopy(classifier.features), nn.Sequential(*dense))


class SlidingWindowDetector(nn.Module):
    """N×C×S×S scenes -> N×P×(4 + classes + 1): each window's corners (x1, y1, x2, y2, shares of
    the image side) and its logits, background last; P windows over all ``sides``."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int,
        sides: list[float],
        window: int,
        width: int,
        hidden: int,
    ):
        super().__init__()
        self.classifier = WindowClassifier(in_channels, num_classes + 1, window, width, hidden)
        self.window, self.classes = window, num_classes
        # each side (a share of the image side) becomes `window` pixels in a resized scene
        self.resized = [max(window, round(window / side)) for side in sides]
        boxes = []
        for size in self.resized:
            starts = torch.arange((size - window) // STRIDE + 1, dtype=torch.float32) * STRIDE / size
            top, left = torch.meshgrid(starts, starts, indexing="ij")
            top, left = top.flatten(), left.flatten()
            boxes.append(torch.stack([left, top, left + window / size, top + window / size], dim=1))
        self.register_buffer("windows", torch.cat(boxes))

    def forward(self, x: Tensor) -> Tensor:
        logits = []
        for size in self.resized:
            scene = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            logits.append(self.classifier.score_map(scene).flatten(2).transpose(1, 2))
        windows = self.windows.to(x.dtype).expand(x.shape[0], -1, -1)
        return torch.cat([windows, torch.cat(logits, dim=1)], dim=2)


def sliding_window(
    in_channels: int,
    num_classes: int,
    image_size: int,
    sides: tuple[float, ...] = (0.17, 0.25, 0.33, 0.42),
    window: int = 28,
    width: int = 16,
    hidden: int = 128,
) -> SlidingWindowDetector:
    """``num_classes``: the object classes (the classifier adds background); ``sides``: the
    window sizes, as shares of the image side."""
    return SlidingWindowDetector(in_channels, num_classes, image_size, list(sides), window, width, hidden)
