"""Learning-rate schedules and optimisers: the lr of given steps against the course's formulas."""

from __future__ import annotations

import math

import pytest
import torch

from dlpipe.config import TrainParams
from dlpipe.training.optim import build_optimizer, build_schedule

STEPS_PER_EPOCH, EPOCHS, LR = 10, 6, 0.1


def _lrs(**train) -> list[float]:
    """The lr used by every optimiser step of a run of EPOCHS epochs."""
    params = TrainParams.model_validate({"optimizer": "sgd", "lr": LR, **train})
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = build_optimizer(params, [weight])
    schedule = build_schedule(params, optimizer, STEPS_PER_EPOCH * EPOCHS, STEPS_PER_EPOCH)
    used = []
    for _ in range(STEPS_PER_EPOCH * EPOCHS):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if schedule is not None:
            schedule.step()
    return used


def test_inverse_time_decay():
    lrs = _lrs(schedule="inverse_time", decay_rate=0.5)
    for step in (0, 9, 10, 35, 59):
        assert lrs[step] == pytest.approx(LR / (1 + 0.5 * (step // STEPS_PER_EPOCH)))


def test_exponential_decay():
    lrs = _lrs(schedule="exponential", gamma=0.8)
    for step in (0, 10, 25, 59):
        assert lrs[step] == pytest.approx(LR * 0.8 ** (step // STEPS_PER_EPOCH))


def test_step_decay():
    lrs = _lrs(schedule="step", gamma=0.1, step_epochs=2)
    assert lrs[19] == pytest.approx(LR)
    assert lrs[20] == pytest.approx(LR * 0.1)
    assert lrs[45] == pytest.approx(LR * 0.01)


def test_cosine_decay():
    lrs = _lrs(schedule="cosine")
    total = STEPS_PER_EPOCH * EPOCHS
    for step in (0, 15, 30, 59):
        assert lrs[step] == pytest.approx(LR * 0.5 * (1 + math.cos(math.pi * step / total)))


def test_constant_is_constant():
    assert set(_lrs(schedule="constant")) == {LR}


@pytest.mark.parametrize("warmup", [{"warmup_steps": 15}, {"warmup_epochs": 1}])
def test_warmup_then_inverse_time_decay(warmup):
    lrs = _lrs(schedule="inverse_time", decay_rate=1.0, **warmup)
    length = warmup.get("warmup_steps") or STEPS_PER_EPOCH
    for step in range(length):
        assert lrs[step] == pytest.approx(LR * (step + 1) / length)
    for step in (length, length + 9, length + 10, length + 31):
        epochs_after = (step - length) // STEPS_PER_EPOCH
        assert lrs[step] == pytest.approx(LR / (1 + epochs_after))


def test_warmup_then_cosine_reaches_the_peak_then_decays():
    lrs = _lrs(schedule="cosine", warmup_steps=10)
    assert lrs[9] == pytest.approx(LR)
    assert lrs[10] == pytest.approx(LR)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))


def test_onecycle_peaks_at_lr():
    lrs = _lrs(schedule="onecycle")
    assert max(lrs) == pytest.approx(LR, rel=1e-3)
    assert lrs[0] < LR / 10 and lrs[-1] < LR / 100


def _one_step(optimizer_name: str, **train) -> torch.Tensor:
    params = TrainParams.model_validate(
        {"optimizer": optimizer_name, "lr": 0.1, "weight_decay": 0.0, **train}
    )
    weight = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = build_optimizer(params, [weight])
    for _ in range(2):
        optimizer.zero_grad()
        (weight**2).sum().backward()  # gradient 2w
        optimizer.step()
    return weight.detach()


def test_plain_sgd_is_theta_minus_lr_gradient():
    # Two steps of w <- w - 0.1 * 2w: w * 0.8 * 0.8.
    assert torch.allclose(_one_step("sgd", momentum=0.0), torch.tensor([0.64, -1.28]))


def test_momentum_and_nesterov_follow_their_update_rules():
    # Momentum: v1 = g0; w1 = w0 - lr g0; v2 = 0.9 v1 + g1; w2 = w1 - lr v2.
    w0 = torch.tensor([1.0, -2.0])
    w1 = w0 - 0.1 * 2 * w0
    v2 = 0.9 * 2 * w0 + 2 * w1
    assert torch.allclose(_one_step("sgd", momentum=0.9), w1 - 0.1 * v2)
    # Nesterov: every step uses g + momentum * v instead of v.
    v1 = 2 * w0
    w1 = w0 - 0.1 * (2 * w0 + 0.9 * v1)
    v2 = 0.9 * v1 + 2 * w1
    assert torch.allclose(_one_step("sgd", momentum=0.9, nesterov=True), w1 - 0.1 * (2 * w1 + 0.9 * v2))


def test_adam_and_rmsprop_take_their_betas_from_params():
    params = TrainParams.model_validate({"optimizer": "adam", "beta1": 0.8, "beta2": 0.99, "eps": 1e-6})
    adam = build_optimizer(params, [torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["betas"] == (0.8, 0.99)
    rmsprop = build_optimizer(
        params.model_copy(update={"optimizer": "rmsprop"}), [torch.nn.Parameter(torch.zeros(1))]
    )
    assert isinstance(rmsprop, torch.optim.RMSprop) and rmsprop.defaults["alpha"] == 0.99
    # Adam's first step moves every weight by lr (bias-corrected m / sqrt(v) = sign(g)).
    assert torch.allclose(_one_step("adam")[0:1], torch.tensor([1.0 - 0.1 - 0.1]), atol=1e-3)
