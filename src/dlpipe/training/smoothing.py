"""Exponentially weighted average with bias correction, for a readable training loss."""

from __future__ import annotations

from torch import Tensor


class BiasCorrectedAverage:
    """v_t = beta * v_{t-1} + (1 - beta) * x_t, reported as v_t / (1 - beta**t).

    Without the correction the first values are pulled towards v_0 = 0. Works
    on tensors without a host sync, so it can run every training step.
    """

    def __init__(self, beta: float):
        self.beta = beta
        self.steps = 0
        self._average: Tensor | float = 0.0

    def update(self, value: Tensor) -> Tensor:
        self.steps += 1
        self._average = self.beta * self._average + (1.0 - self.beta) * value.detach()
        return self.value

    @property
    def value(self) -> Tensor:
        if self.steps == 0:
            raise ValueError("no value averaged yet")
        return self._average / (1.0 - self.beta**self.steps)
