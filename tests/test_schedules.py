"""Learning-rate schedules and optimisers: the lr of given steps against the course's formulas."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import shipped
from dlpipe.training.optim import build_optimizer, build_schedule

STEPS_PER_EPOCH, EPOCHS, LR = 10, 6, 0.1


def _lrs(**train) -> list[float]:
    """The lr used by every optimiser step of a run of EPOCHS epochs."""
    params = shipped("train", **{"optimizer": "sgd", "lr": LR, **train})
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
    params = shipped("train", **{"optimizer": optimizer_name, "lr": 0.1, "weight_decay": 0.0, **train})
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


W0, LR_STEP = (1.0, -2.0), 0.1


def _gradient(w: list[float]) -> list[float]:
    return [2 * x for x in w]  # of sum(w**2), as _one_step computes it


def _adam_by_hand(
    beta1: float, beta2: float, eps: float, decay: float = 0.0, decoupled: bool = False
) -> list[float]:
    """Two Adam steps: m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, w -= lr m^ / (sqrt(v^) + eps),
    with m^ = m / (1 - b1^t) and v^ = v / (1 - b2^t). Weight decay: Adam adds decay * w to g;
    AdamW (decoupled) first shrinks w by (1 - lr * decay)."""
    w, m, v = list(W0), [0.0, 0.0], [0.0, 0.0]
    for t in (1, 2):
        g = _gradient(w)
        if decoupled:
            w = [x * (1 - LR_STEP * decay) for x in w]
        else:
            g = [gi + decay * x for gi, x in zip(g, w, strict=True)]
        m = [beta1 * mi + (1 - beta1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [beta2 * vi + (1 - beta2) * gi**2 for vi, gi in zip(v, g, strict=True)]
        w = [
            x - LR_STEP * (mi / (1 - beta1**t)) / (math.sqrt(vi / (1 - beta2**t)) + eps)
            for x, mi, vi in zip(w, m, v, strict=True)
        ]
    return w


def _rmsprop_by_hand(beta2: float, eps: float) -> list[float]:
    """Two RMSprop steps: s = b2 s + (1-b2) g^2, w -= lr g / (sqrt(s) + eps)."""
    w, s = list(W0), [0.0, 0.0]
    for _ in (1, 2):
        g = _gradient(w)
        s = [beta2 * si + (1 - beta2) * gi**2 for si, gi in zip(s, g, strict=True)]
        w = [x - LR_STEP * gi / (math.sqrt(si) + eps) for x, gi, si in zip(w, g, s, strict=True)]
    return w


# eps 0.5 is far from its default so that it visibly changes the step
BETAS = {"beta1": 0.8, "beta2": 0.99, "eps": 0.5}


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_adam_and_adamw_follow_the_adam_update_with_betas_and_eps_from_params(optimizer):
    expected = _adam_by_hand(0.8, 0.99, 0.5)
    assert _one_step(optimizer, **BETAS).tolist() == pytest.approx(expected, rel=1e-5)
    # eps moves the result: the same steps with the default eps differ
    assert _one_step(optimizer, beta1=0.8, beta2=0.99).tolist() == pytest.approx(
        _adam_by_hand(0.8, 0.99, 1e-8), rel=1e-5
    )
    assert expected != pytest.approx(_adam_by_hand(0.8, 0.99, 1e-8), rel=1e-3)


def test_rmsprop_decays_squared_gradients_by_beta2_and_adds_eps():
    assert _one_step("rmsprop", **BETAS).tolist() == pytest.approx(_rmsprop_by_hand(0.99, 0.5), rel=1e-5)
    assert _one_step("rmsprop", beta2=0.9, eps=1e-8).tolist() == pytest.approx(
        _rmsprop_by_hand(0.9, 1e-8), rel=1e-5
    )


def test_adam_adds_weight_decay_to_the_gradient_and_adamw_decouples_it():
    adam = _one_step("adam", **BETAS, weight_decay=0.5).tolist()
    adamw = _one_step("adamw", **BETAS, weight_decay=0.5).tolist()
    assert adam == pytest.approx(_adam_by_hand(0.8, 0.99, 0.5, decay=0.5), rel=1e-5)
    assert adamw == pytest.approx(_adam_by_hand(0.8, 0.99, 0.5, decay=0.5, decoupled=True), rel=1e-5)
    assert adam != pytest.approx(adamw, rel=1e-3)
