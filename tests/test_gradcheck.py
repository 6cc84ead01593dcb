"""Gradient checking: the utility itself, then every custom layer and loss of the project."""

from __future__ import annotations

import pytest
import torch

from dlpipe.models.layers import replace_first_conv
from dlpipe.models.lenet import LeNet5
from dlpipe.models.mlp import MLP
from dlpipe.models.nin import mlpconv
from dlpipe.models.resnet import SmallResNet
from dlpipe.tasks.classify.task import classification_loss
from dlpipe.training import mixup
from dlpipe.training.gradcheck import GradientCheckError, check_module, relative_error
from dlpipe.training.regularization import l2_penalty


class _WrongSquare(torch.autograd.Function):
    """x**2 with a deliberately wrong backward (x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


class _WrongLayer(torch.nn.Module):
    def forward(self, x):
        return _WrongSquare.apply(x)


def _double(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def test_gradient_check_passes_for_a_correct_function():
    x = _double(5).requires_grad_(True)
    assert relative_error(lambda: (x**3).sum(), [x]) < 1e-8


def test_gradient_check_fails_for_a_wrong_backward():
    x = _double(5).requires_grad_(True)
    assert relative_error(lambda: _WrongSquare.apply(x).sum(), [x]) > 0.1
    with pytest.raises(GradientCheckError, match="_WrongLayer: relative error"):
        check_module(_WrongLayer(), _double(2, 3))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (MLP(12, 3, [5, 4], "tanh", dropout=0.5, batch_norm=True), (4, 3, 2, 2)),
        (LeNet5(1, 3, image_size=28, batch_norm=True), (2, 1, 28, 28)),
        (LeNet5(1, 3, image_size=32, modern=False), (2, 1, 32, 32)),
        (mlpconv(2, (4, 3, 3), kernel=3), (2, 2, 5, 5)),
        (SmallResNet(2, 3, widths=[2, 4], blocks=[1, 1]), (2, 2, 6, 6)),
        (replace_first_conv(torch.nn.Conv2d(3, 2, 3), 1), (1, 1, 5, 5)),
    ],
    ids=["mlp", "lenet5-bn", "lenet5-classic", "nin-mlpconv", "small-resnet", "first-conv"],
)
def test_custom_layers_pass_gradient_checking(layer, shape):
    if any(isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d) for m in layer.modules()):
        layer.train()(torch.randn(*shape))  # non-trivial running statistics for eval mode
    assert check_module(layer, _double(*shape)) < 1e-6


def test_losses_pass_gradient_checking():
    logits = _double(4, 3).requires_grad_(True)
    one_logit = _double(4, 1).requires_grad_(True)
    labels = torch.tensor([0, 2, 1, 2])
    soft = mixup.mixed_targets(labels, torch.tensor([3, 2, 1, 0]), 0.3, 3).double()
    assert relative_error(lambda: classification_loss(logits, labels, 0.1), [logits]) < 1e-7
    assert relative_error(lambda: classification_loss(logits, soft, 0.1), [logits]) < 1e-7
    assert relative_error(lambda: classification_loss(one_logit, labels % 2, 0.1), [one_logit]) < 1e-7
    mlp = MLP(6, 2, [3], "sigmoid").double()
    weights = [p for p in mlp.parameters()]
    assert relative_error(lambda: l2_penalty(mlp, 0.7, batch_size=8), weights) < 1e-7
