"""Claims about batch norm: the larger learning rate it allows, and its running averages at test time."""

from __future__ import annotations

import math

import torch

from dlpipe.claims.common import Finding, digits, evaluate, seeded, train
from dlpipe.models.convnet import convnet
from dlpipe.models.init import initialize
from dlpipe.models.mlp import MLP

RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
STEPS, TRAINED = 200, 0.5  # "trains": the training loss after STEPS steps below TRAINED (ln 10 at start)


def _largest_stable(batch_norm: bool, seed: int) -> float:
    data = digits(seed)
    largest = 0.0
    for lr in RATES:
        seeded(seed)
        model = MLP(64, 10, [128] * 6, "relu", batch_norm=batch_norm)
        initialize(model, "he")
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        losses = train(model, data.x_train, data.y_train, optimizer, STEPS, 64, seed)
        loss = evaluate(model, data.x_train, data.y_train)[0] if math.isfinite(losses[-1]) else math.inf
        if loss < TRAINED:
            largest = lr
    return largest


def batch_norm_lr(seeds: list[int]) -> Finding:
    measured = {
        "largest lr that trains, with batch norm": [_largest_stable(True, seed) for seed in seeds],
        "largest lr that trains, without": [_largest_stable(False, seed) for seed in seeds],
    }
    with_bn, without = measured.values()
    higher = all(a > b for a, b in zip(with_bn, without, strict=True))
    return Finding(
        claim="Batch norm allows a higher learning rate.",
        setting=f"MLP 64-6×128(ReLU)-10, He init, plain SGD for {STEPS} steps of 64 at lr "
        f"{', '.join(map(str, RATES))}; 'trains': training loss below {TRAINED}",
        measured=measured,
        rule="confirmed: the largest learning rate that trains is higher with batch norm on every seed",
        verdict="confirmed" if higher else "not confirmed here",
        note=f"largest lr with batch norm {with_bn}, without {without}",
    )


def batch_norm_eval(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {
        "eval mode: alone vs in a batch": [],
        "train mode: alone vs in a batch": [],
    }
    for seed in seeds:
        data = digits(seed)
        seeded(seed)
        model = convnet(1, 10, 8, widths=(16, 32), hidden=64)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        train(model, data.x_train, data.y_train, optimizer, 100, 64, seed)
        batch, one = data.x_dev[:256], data.x_dev[:1]
        with torch.no_grad():
            for mode, label in ((False, "eval mode"), (True, "train mode")):
                model.train(mode)
                state = {k: v.clone() for k, v in model.state_dict().items()}  # train mode moves the averages
                difference = float((model(one) - model(batch)[:1]).abs().max())
                model.load_state_dict(state)
                measured[f"{label}: alone vs in a batch"].append(difference)
    same = max(measured["eval mode: alone vs in a batch"]) < 1e-4
    differs = min(measured["train mode: alone vs in a batch"]) > 1e-2
    return Finding(
        claim="At test time batch norm uses its running averages: an image's prediction alone equals its "
        "prediction inside a batch.",
        setting="convnet (16, 32 channels, batch norm) trained 100 Adam steps; the first dev image alone "
        "and first in a batch of 256: the largest logit difference",
        measured=measured,
        rule="confirmed: below 1e-4 in eval mode on every seed, and above 1e-2 in train mode (batch "
        "statistics) on every seed",
        verdict="confirmed" if same and differs else "not confirmed here",
        note=f"eval mode {max(measured['eval mode: alone vs in a batch']):.1e} at most; train mode "
        f"{min(measured['train mode: alone vs in a batch']):.2f} at least",
    )
