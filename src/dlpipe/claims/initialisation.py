"""Claims about initial weights: symmetry (zero init) and scale (He, Xavier, a small Gaussian)."""

from __future__ import annotations

import torch
from torch import nn

from dlpipe.claims.common import (
    EXCEEDS_RULE,
    Finding,
    digits,
    evaluate,
    exceeds,
    mean_sd,
    seeded,
    summary,
    train,
)
from dlpipe.models.init import initialize
from dlpipe.models.mlp import MLP


def _hidden_spread(model: MLP) -> float:
    """How far the hidden units' incoming weights and biases lie from their mean unit: 0 when
    every unit computes the same function."""
    layer = model.features[1]
    units = torch.cat([layer.weight, layer.bias[:, None]], dim=1)
    return float((units - units.mean(dim=0)).abs().max())


SYMMETRIC = {"zeros": 0.0, "constant 0.1": 0.1}  # every weight and bias this value


def zero_init(seeds: list[int]) -> Finding:
    """Zeros learn nothing in the hidden layer (its gradient is 0), so a constant 0.1 is run too:
    its units do learn, and stay identical all the same."""
    measured: dict[str, list[float]] = {}
    for seed in seeds:
        data = digits(seed)
        for scheme in (*SYMMETRIC, "xavier"):
            seeded(seed)
            model = MLP(64, 10, [32], "tanh")
            if scheme in SYMMETRIC:
                for parameter in model.parameters():
                    nn.init.constant_(parameter, SYMMETRIC[scheme])
            else:
                initialize(model, "xavier")
            first = model.features[1].weight.detach().clone()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
            train(model, data.x_train, data.y_train, optimizer, steps=300, batch=64, seed=seed)
            moved = float((model.features[1].weight - first).abs().max())
            measured.setdefault(f"{scheme} spread", []).append(_hidden_spread(model))
            measured.setdefault(f"{scheme} hidden weights moved", []).append(moved)
            measured.setdefault(f"{scheme} dev acc", []).append(evaluate(model, data.x_dev, data.y_dev)[1])
    identical = all(max(measured[f"{scheme} spread"]) <= 1e-6 for scheme in SYMMETRIC)
    learned = min(measured["constant 0.1 hidden weights moved"]) > 1e-3
    distinct = min(measured["xavier spread"]) > 1e-2
    return Finding(
        claim="Zero (or any constant) initialisation leaves the hidden units of a layer identical after "
        "training; random initialisation does not.",
        setting="MLP 64-32(tanh)-10, every weight and bias 0, or 0.1, vs Xavier; SGD lr 0.5, 300 steps of 64",
        measured=measured,
        rule="confirmed: the units' largest distance from their mean unit is ≤ 1e-6 for 0 and 0.1 on every "
        "seed though the 0.1 units moved (> 1e-3), and > 1e-2 for Xavier on every seed",
        verdict="confirmed" if identical and learned and distinct else "not confirmed here",
        note="spread (dev accuracy): "
        + ", ".join(
            f"{scheme} {summary(measured[f'{scheme} spread'], 6)} ({summary(measured[f'{scheme} dev acc'])})"
            for scheme in (*SYMMETRIC, "xavier")
        )
        + f"; the 0.1 units moved {summary(measured['constant 0.1 hidden weights moved'], 3)}",
    )


SCALES = ("he", "xavier", "small")
DEPTH, WIDTH, STEPS = 10, 128, 300


def _deep_relu(scheme: str) -> MLP:
    model = MLP(64, 10, [WIDTH] * DEPTH, "relu")
    if scheme == "small":
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)
    else:
        initialize(model, scheme)
    return model


def _scales(model: MLP, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    """Each hidden layer's activation std on ``x`` and its weights' gradient std, at init."""
    activations: list[torch.Tensor] = []
    hooks = [
        module.register_forward_hook(lambda _m, _i, out: activations.append(out.detach()))
        for module in model.features
        if isinstance(module, nn.ReLU)
    ]
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    for hook in hooks:
        hook.remove()
    layers = [m for m in model.features if isinstance(m, nn.Linear)]
    return [float(a.std()) for a in activations], [float(layer.weight.grad.std()) for layer in layers]


def init_scales(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {}
    detail: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        data = digits(seed)
        for scheme in SCALES:
            seeded(seed)
            model = _deep_relu(scheme)
            activation, gradient = _scales(model, data.x_train[:512], data.y_train[:512])
            model.zero_grad()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            train(model, data.x_train, data.y_train, optimizer, steps=STEPS, batch=64, seed=seed)
            loss = evaluate(model, data.x_train, data.y_train)[0]
            measured.setdefault(f"{scheme} last/first activation std", []).append(
                activation[-1] / activation[0]
            )
            measured.setdefault(f"{scheme} train loss after {STEPS} steps", []).append(loss)
            for key, values in (("activation std", activation), ("gradient std", gradient)):
                detail.setdefault(f"{scheme} {key} per layer", []).append(values)
    per_layer = {
        key: [mean_sd(list(layer))[0] for layer in zip(*runs, strict=True)] for key, runs in detail.items()
    }
    ratio = {scheme: mean_sd(measured[f"{scheme} last/first activation std"])[0] for scheme in SCALES}
    losses = {scheme: measured[f"{scheme} train loss after {STEPS} steps"] for scheme in SCALES}
    kept = 0.25 <= ratio["he"] <= 4 and ratio["small"] < 1e-3
    best = exceeds(losses["xavier"], losses["he"]) and exceeds(losses["small"], losses["he"])
    return Finding(
        claim="He initialisation keeps a deep ReLU network's activations at their scale and trains it "
        "faster than Xavier's or N(0, 0.01²) (each layer's gradient scale is in the claim's JSON).",
        setting=f"MLP 64-{DEPTH}×{WIDTH}(ReLU)-10 without batch norm; scales at init on 512 images; "
        f"SGD lr 0.01 momentum 0.9, {STEPS} steps of 64",
        measured=measured,
        rule="confirmed: He's last/first activation std within [0.25, 4] and N(0, 0.01²)'s below 1e-3, and "
        f"He's training loss below each other's by the rule: {EXCEEDS_RULE}",
        verdict="confirmed" if kept and best else "not confirmed here",
        note=", ".join(f"{s}: activation ratio {ratio[s]:.2g}, loss {summary(losses[s], 3)}" for s in SCALES),
        detail=per_layer,
    )
