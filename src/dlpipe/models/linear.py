"""Logistic regression: one linear layer on the flattened pixels.

Two classes use a single logit (sigmoid + binary cross-entropy, as the course
introduces it); more classes use softmax regression.
"""

from __future__ import annotations

from torch import Tensor, nn

from dlpipe.models.init import initialize


class LogisticRegression(nn.Module):
    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, 1 if num_classes == 2 else num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.flatten(x))


def logistic_regression(in_channels: int, num_classes: int, image_size: int, init: str = "xavier"):
    model = LogisticRegression(in_channels * image_size * image_size, num_classes)
    initialize(model, init)
    return model
