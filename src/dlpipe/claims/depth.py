"""Claims about depth: plain networks degrade with depth where ResNets do not; warm-up."""

from __future__ import annotations

import math

import torch

from dlpipe.claims.common import EXCEEDS_RULE, Finding, digits, evaluate, exceeds, seeded, summary, train
from dlpipe.models.resnet import cifar_resnet

STEPS, WIDTH = 300, 0.5


def _training_error(depth: int, shortcuts: bool, seed: int) -> float:
    data = digits(seed)
    seeded(seed)
    model = cifar_resnet(1, 10, depth, WIDTH, shortcuts)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    train(model, data.x_train, data.y_train, optimizer, STEPS, 64, seed)
    return 1.0 - evaluate(model, data.x_train, data.y_train)[1]


def plain_vs_residual(seeds: list[int]) -> Finding:
    nets = {
        f"{kind}-{depth} training error": (depth, kind == "residual")
        for kind in ("plain", "residual")
        for depth in (20, 56)
    }
    measured = {
        label: [_training_error(depth, shortcuts, seed) for seed in seeds]
        for label, (depth, shortcuts) in nets.items()
    }
    plain_worse = exceeds(measured["plain-56 training error"], measured["plain-20 training error"])
    residual_fine = not exceeds(
        measured["residual-56 training error"], measured["residual-20 training error"]
    )
    return Finding(
        claim="Deeper plain networks train worse; ResNets do not.",
        setting=f"CIFAR ResNet-20/56 (widths 8, 16, 32) and the same without shortcuts, on the 8×8 digits; "
        f"SGD lr 0.05 momentum 0.9, {STEPS} steps of 64; error on the whole training split",
        measured=measured,
        rule=f"confirmed: plain-56's training error above plain-20's ({EXCEEDS_RULE}), and residual-56's not "
        "above residual-20's by that rule",
        verdict="confirmed" if plain_worse and residual_fine else "not confirmed here",
        note=", ".join(f"{label.split()[0]} {summary(values)}" for label, values in measured.items()),
    )


WARMUP_STEPS = 150
RATES = (0.8, 1.2, 1.6, 2.0, 2.4, 3.2)  # tried in turn without warm-up until one fails
FAILS, TRAINS = 0.5, 0.8  # training accuracy below FAILS: it diverged or stuck; from TRAINS: it trained


def _warmed(seed: int, lr: float, warmup: bool) -> float:
    """Training accuracy after STEPS steps at ``lr`` (0 when the loss diverged)."""
    data = digits(seed)
    seeded(seed)
    model = cifar_resnet(1, 10, 20, WIDTH)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    schedule = (lambda step: min(1.0, (step + 1) / WARMUP_STEPS)) if warmup else None
    losses = train(model, data.x_train, data.y_train, optimizer, STEPS, 64, seed, schedule=schedule)
    return evaluate(model, data.x_train, data.y_train)[1] if math.isfinite(losses[-1]) else 0.0


def warmup(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {"lr": [], "training accuracy without warm-up": [], "with": []}
    for seed in seeds:
        for lr in RATES:
            cold = _warmed(seed, lr, warmup=False)
            if cold < FAILS:
                break
        measured["lr"].append(lr)
        measured["training accuracy without warm-up"].append(cold)
        measured["with"].append(_warmed(seed, lr, warmup=True))  # at the last lr tried if none failed
    cold, warmed = measured["training accuracy without warm-up"], measured["with"]
    holds = all(c < FAILS for c in cold) and all(w >= TRAINS for w in warmed)
    return Finding(
        claim="Warm-up lets a ResNet train at a learning rate where it diverges without it.",
        setting=f"ResNet-20 (widths 8, 16, 32), SGD momentum 0.9, {STEPS} steps of 64; per seed the first lr "
        f"of {', '.join(map(str, RATES))} whose run without warm-up ends below {FAILS} training accuracy, "
        f"then the same lr with a linear warm-up over {WARMUP_STEPS} steps",
        measured=measured,
        rule=f"confirmed: on every seed an lr fails without warm-up (< {FAILS}) and trains with it "
        f"(≥ {TRAINS})",
        verdict="confirmed" if holds else "not confirmed here",
        note=f"lr {measured['lr']}: training accuracy {summary(cold)} without warm-up, "
        f"{summary(warmed)} with",
    )
