"""Gradient checking: the utility itself, then every custom layer and loss of the project,
the training losses of every task family in train mode."""

from __future__ import annotations

import pytest
import torch

from conftest import shipped
from dlpipe.models.layers import replace_first_conv
from dlpipe.models.lenet import LeNet5
from dlpipe.models.mlp import MLP
from dlpipe.models.nin import mlpconv
from dlpipe.models.resnet import SmallResNet
from dlpipe.models.video import C3D, R2Plus1D
from dlpipe.tasks.classify.task import ClassificationTask, classification_loss
from dlpipe.tasks.landmarks.task import LandmarkTask
from dlpipe.tasks.localize.task import LocalizationTask
from dlpipe.training import mixup
from dlpipe.training.gradcheck import GradientCheckError, check_module, relative_error
from dlpipe.training.regularization import l2_penalty


@pytest.fixture(autouse=True)
def _one_thread():
    """Gradient checks run thousands of tiny float64 forwards: one thread is as fast, and does not
    wait on a second core that another process keeps busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


def _train_mode_error(module: torch.nn.Module, x: torch.Tensor, max_per_tensor: int = 64) -> float:
    """check_module's J = sum(output * fixed weights), with the module in train mode: dropout
    draws the same masks at every evaluation (the RNG is reseeded), batch norm uses the batch's
    statistics."""
    module = module.double().train()
    leaf = x.detach().double().requires_grad_(True)

    def output() -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return module(leaf)

    weights = torch.randn(output().shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def cost() -> torch.Tensor:
        return (output() * weights).sum()

    parameters = [p for p in module.parameters() if p.requires_grad] + [leaf]
    return relative_error(cost, parameters, max_per_tensor=max_per_tensor)


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: MLP(12, 3, [5, 4], "tanh", dropout=0.5, batch_norm=True), (4, 3, 2, 2)),
        (lambda: LeNet5(1, 3, image_size=28, batch_norm=True), (2, 1, 28, 28)),
        (lambda: LeNet5(1, 3, image_size=32, modern=False), (2, 1, 32, 32)),
        (lambda: mlpconv(2, (4, 3, 3), kernel=3), (2, 2, 5, 5)),
        (lambda: SmallResNet(2, 3, widths=[2, 4], blocks=[1, 1]), (2, 2, 6, 6)),
        (lambda: replace_first_conv(torch.nn.Conv2d(3, 2, 3), 1), (1, 1, 5, 5)),
        (lambda: C3D(1, 3, widths=[2, 3], hidden=4, dropout=0.0), (2, 1, 4, 6, 6)),
        (lambda: R2Plus1D(1, 3, widths=[2, 3], hidden=4, dropout=0.0), (2, 1, 4, 6, 6)),
    ],
    ids=[
        "mlp",
        "lenet5-bn",
        "lenet5-classic",
        "nin-mlpconv",
        "small-resnet",
        "first-conv",
        "c3d",
        "r2plus1d",
    ],
)
def test_custom_layers_pass_gradient_checking(make, shape):
    # Built here, after seeding: torch starts every process from a random seed, and a random
    # draw can put a ReLU or max-pool input within epsilon of its kink.
    torch.manual_seed(0)
    layer = make()
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in layer.modules()):
        layer.train()(torch.randn(*shape))  # non-trivial running statistics for eval mode
    assert check_module(layer, _double(*shape)) < 1e-6
    assert _train_mode_error(layer, _double(*shape)) < 1e-6  # dropout on, batch statistics


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


def _task(arch: str, classes: int, options: dict, **train) -> ClassificationTask:
    torch.manual_seed(0)
    settings = shipped("train", **{"label_smoothing": 0.1, **train}).model_dump()
    names = [str(i) for i in range(classes)]
    return ClassificationTask(arch, 1, classes, 8, names, options, settings).double().train()


_DEEP = {"hidden": [5, 4], "activation": "tanh", "dropout": 0.5, "batch_norm": True}


@pytest.mark.parametrize(
    ("arch", "classes", "options", "train"),
    [
        ("mlp_deep", 3, _DEEP, {}),
        ("mlp_deep", 3, _DEEP, {"mixup_alpha": 0.4}),
        ("mlp_deep", 3, _DEEP, {"manifold_mixup_alpha": 2.0}),
        ("mlp_deep", 3, _DEEP, {"l2_penalty": 0.7}),
        ("mlp_deep", 3, _DEEP, {"keep_prob": 0.6, "l2_penalty": 0.7, "mixup_alpha": 0.4}),
        ("logreg", 2, {}, {"l2_penalty": 0.7}),  # one logit: label-smoothed binary cross-entropy
        # ... on mixed (soft) targets, which once stayed float32 beside float64 logits
        ("logreg", 2, {}, {"mixup_alpha": 0.4}),
    ],
    ids=["plain", "mixup", "manifold-mixup", "l2", "keep-prob-l2-mixup", "bce-smoothed-l2", "bce-mixup"],
)
def test_training_loss_passes_gradient_checking_in_train_mode(arch, classes, options, train):
    """The loss training_step minimises, with every technique it adds, against the numerical
    gradient; lambda, the permutation, the mixing point and dropout masks are drawn alike at
    every evaluation."""
    task = _task(arch, classes, options, **train)
    x = _double(6, 1, 8, 8).requires_grad_(True)
    y = torch.tensor([0, 1, 2, 0, 1, 2]) % classes

    def cost() -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(3)
            return task.training_step((x, y), 0)

    assert relative_error(cost, [*task.parameters(), x], max_per_tensor=16) < 1e-6


def test_manifold_mixup_at_every_mixing_point_passes_gradient_checking():
    task = _task("mlp_deep", 3, _DEEP, manifold_mixup_alpha=2.0)
    x = _double(6, 1, 8, 8).requires_grad_(True)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    permutation = torch.tensor([5, 3, 4, 1, 0, 2])
    targets = mixup.mixed_targets(y, permutation, 0.3, 3).double()
    assert task.mixing_points == ["features.1", "features.2", "features.5", "features.6"]  # Linear, BN
    for point in task.mixing_points:

        def cost(point: str = point) -> torch.Tensor:
            with torch.random.fork_rng(devices=[]), mixup.mixing_at(task.model, point, permutation, 0.3):
                torch.manual_seed(0)
                return classification_loss(task.model(x), targets, 0.1)

        assert relative_error(cost, [*task.parameters(), x], max_per_tensor=16) < 1e-6, point


class _TwoHeads(torch.nn.Module):
    """A stand-in for Inception in training: (logits, aux2, aux1), one auxiliary head off."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = torch.nn.Linear(64, 5)
        self.head = torch.nn.Linear(5, 3)
        self.aux = torch.nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> tuple:
        hidden = torch.tanh(self.trunk(x.flatten(1)))
        return self.head(hidden), self.aux(hidden), None


def test_auxiliary_losses_are_weighted_and_pass_gradient_checking():
    task = _task("mlp_deep", 3, _DEEP, aux_loss_weight=0.3)
    task.model = _TwoHeads().double()
    x = _double(6, 1, 8, 8).requires_grad_(True)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    main, aux, _ = task.model(x)
    expected = torch.nn.functional.cross_entropy(
        main, y, label_smoothing=0.1
    ) + 0.3 * torch.nn.functional.cross_entropy(aux, y, label_smoothing=0.1)
    loss, logits = task.loss_and_outputs(x, y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.equal(logits, main)
    parameters = [*task.model.parameters(), x]
    assert relative_error(lambda: task.training_step((x, y), 0), parameters, max_per_tensor=16) < 1e-6


def test_localisation_loss_passes_gradient_checking_in_train_mode():
    """The notes' loss (logistic p_c, squared box error and class cross-entropy where an object
    is present), with dropout, batch statistics and L2, against the numerical gradient."""
    torch.manual_seed(0)
    names = ["a", "b", "c"]
    task = (
        LocalizationTask("mlp_deep", 1, 5 + 3, 8, names, _DEEP, shipped("train", l2_penalty=0.7).model_dump())
        .double()
        .train()
    )
    _random_head(task)
    x = _double(6, 1, 8, 8).requires_grad_(True)
    boxes = torch.rand(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 0.5 + 0.2
    present = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    classes = torch.tensor([0.0, 2.0, 0.0, 1.0, 0.0, 2.0], dtype=torch.float64)
    y = torch.cat([present[:, None], boxes, classes[:, None]], dim=1)  # [p_c, b_x, b_y, b_h, b_w, class]

    def cost() -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return task.training_step((x, y), 0)

    assert relative_error(cost, [*task.parameters(), x], max_per_tensor=16) < 1e-6


def _random_head(task) -> None:
    """The families zero the last layer (a fresh head starts undecided); the check wants a
    gradient on every path, so the head gets random weights here."""
    last = [m for m in task.model.modules() if isinstance(m, torch.nn.Linear)][-1]
    torch.nn.init.normal_(last.weight, std=0.3)


def test_landmark_loss_passes_gradient_checking_in_train_mode():
    torch.manual_seed(0)
    names = ["1", "2", "3", "4"]
    task = (
        LandmarkTask("mlp_deep", 1, 2 * 4, 8, names, _DEEP, shipped("train", l2_penalty=0.7).model_dump())
        .double()
        .train()
    )
    _random_head(task)
    x = _double(6, 1, 8, 8).requires_grad_(True)
    y = torch.rand(6, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def cost() -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return task.training_step((x, y), 0)

    assert relative_error(cost, [*task.parameters(), x], max_per_tensor=16) < 1e-6
