"""Claims about optimisation: input normalisation, batch size, the optimisers and lr decay."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from dlpipe.claims.common import (
    EXCEEDS_RULE,
    Digits,
    Finding,
    digits,
    evaluate,
    exceeds,
    seeded,
    summary,
    train,
)
from dlpipe.models.init import initialize
from dlpipe.models.mlp import MLP


def _mlp(hidden: list[int]) -> MLP:
    model = MLP(64, 10, hidden, "relu")
    initialize(model, "he")
    return model


def steps_to(
    data: Digits,
    seed: int,
    make_optimizer: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
    target: float,
    most: int,
    hidden: list[int],
    every: int = 25,
) -> int:
    """Steps of 64 until the whole training split's loss is ≤ ``target`` (checked ``every``
    steps); ``most`` when it never gets there (or diverges)."""
    seeded(seed)
    model = _mlp(hidden)
    optimizer = make_optimizer(list(model.parameters()))
    for done in range(every, most + 1, every):
        losses = train(model, data.x_train, data.y_train, optimizer, every, 64, seed + done)
        if not math.isfinite(losses[-1]):
            return most
        if evaluate(model, data.x_train, data.y_train)[0] <= target:
            return done
    return most


LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)


def normalised_inputs(seeds: list[int]) -> Finding:
    target, most = 0.1, 2000
    measured: dict[str, list[float]] = {"raw pixels (0-16)": [], "standardised": []}
    chosen: dict[str, list[float]] = {"raw pixels (0-16)": [], "standardised": []}
    for seed in seeds:
        for label, raw in (("raw pixels (0-16)", True), ("standardised", False)):
            data = digits(seed, raw=raw)
            tried = {
                lr: steps_to(
                    data, seed, lambda p, lr=lr: torch.optim.SGD(p, lr=lr), target, most, [64], every=5
                )
                for lr in LEARNING_RATES
            }
            best = min(tried, key=lambda lr: (tried[lr], lr))
            measured[label].append(tried[best])
            chosen[label].append(best)
    raw, standard = measured["raw pixels (0-16)"], measured["standardised"]
    return Finding(
        claim="Normalised inputs train faster than raw pixel values.",
        setting=f"MLP 64-64-10, SGD at the best of lr {', '.join(map(str, LEARNING_RATES))} for each input; "
        f"steps of 64 until the training loss is ≤ {target}, checked every 5 ({most} if never)",
        measured=measured,
        rule=f"confirmed: fewer steps standardised, {EXCEEDS_RULE}",
        verdict="confirmed" if exceeds(raw, standard) else "not confirmed here",
        note=f"steps: raw {summary(raw, 0)} vs standardised {summary(standard, 0)}; best lr raw "
        f"{chosen['raw pixels (0-16)']}, standardised {chosen['standardised']}",
        detail={"best lr": chosen},
    )


BATCHES = {"batch (all 1,078)": 0, "mini-batch (64)": 64, "stochastic (1)": 1}
TARGET_LOSS, MOST_EPOCHS = 0.2, 200


def _to_target(data: Digits, size: int, seed: int) -> tuple[float, float]:
    """Examples seen and seconds of training (checks not counted) until the training loss is ≤
    TARGET_LOSS, checked about every tenth of an epoch (every step of the full batch);
    MOST_EPOCHS' worth when never."""
    seeded(seed)
    model = _mlp([64])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    chunk = max(1, round(len(data.x_train) / 10 / size))  # about a tenth of an epoch of examples
    seen, seconds = 0, 0.0
    while seen < MOST_EPOCHS * len(data.x_train):
        start = time.perf_counter()
        train(model, data.x_train, data.y_train, optimizer, chunk, size, seed + seen)
        seconds += time.perf_counter() - start
        seen += chunk * size
        if evaluate(model, data.x_train, data.y_train)[0] <= TARGET_LOSS:
            break
    return seen, seconds


def batch_sizes(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {}
    for seed in seeds:
        data = digits(seed)
        _to_target(data, 64, seed)  # the first run pays for warming up torch's kernels
        for label, size in BATCHES.items():
            seen, seconds = _to_target(data, size or len(data.x_train), seed)
            measured.setdefault(f"{label} examples seen", []).append(seen)
            measured.setdefault(f"{label} seconds", []).append(seconds)
    seen = {label: measured[f"{label} examples seen"] for label in BATCHES}
    seconds = {label: measured[f"{label} seconds"] for label in BATCHES}
    batch, mini, single = BATCHES
    holds = exceeds(seen[batch], seen[mini]) and exceeds(seconds[single], seconds[mini])
    return Finding(
        claim="Mini-batch gradient descent needs fewer examples than batch gradient descent and fewer "
        "seconds than stochastic gradient descent.",
        setting=f"MLP 64-64-10, SGD lr 0.05 at batch sizes 1,078, 64 and 1, until the training loss is ≤ "
        f"{TARGET_LOSS} (checked about every tenth of an epoch, every step of the full batch; at most "
        f"{MOST_EPOCHS} epochs)",
        measured=measured,
        rule="confirmed: mini-batch sees fewer examples than batch and takes fewer seconds than stochastic, "
        f"each by the rule: {EXCEEDS_RULE}",
        verdict="confirmed" if holds else "not confirmed here",
        note="; ".join(
            f"{label}: {summary(seen[label], 0)} examples in {summary(seconds[label], 2)} s"
            for label in BATCHES
        ),
    )


OPTIMISERS: dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]] = {
    "SGD (lr 0.05)": lambda p: torch.optim.SGD(p, lr=0.05),
    "momentum (lr 0.05, β 0.9)": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    "RMSprop (lr 1e-3)": lambda p: torch.optim.RMSprop(p, lr=1e-3),
    "Adam (lr 1e-3)": lambda p: torch.optim.Adam(p, lr=1e-3),
}


def optimisers(seeds: list[int]) -> Finding:
    target, most = 0.05, 3000
    measured: dict[str, list[float]] = {label: [] for label in OPTIMISERS}
    for seed in seeds:
        data = digits(seed)
        for label, make in OPTIMISERS.items():
            measured[label].append(steps_to(data, seed, make, target, most, [128, 128]))
    plain, *others = OPTIMISERS
    faster = {label: exceeds(measured[plain], measured[label]) for label in others}
    return Finding(
        claim="Momentum, RMSprop and Adam reach a training loss in fewer steps than plain SGD.",
        setting=f"MLP 64-128-128-10; steps of 64 until the training loss is ≤ {target} ({most} if never)",
        measured=measured,
        rule=f"confirmed: each needs fewer steps than SGD, {EXCEEDS_RULE}",
        verdict="confirmed" if all(faster.values()) else "not confirmed here",
        note="steps: " + ", ".join(f"{label} {summary(measured[label], 0)}" for label in OPTIMISERS),
    )


def lr_decay(seeds: list[int]) -> Finding:
    steps, batch, lr = 800, 8, 0.3  # small noisy batches: where a constant rate's noise is what stops it
    schedules: dict[str, Callable[[int], float] | None] = {
        "constant": None,
        "cosine decay": lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)),
    }
    measured: dict[str, list[float]] = {}
    for seed in seeds:
        data = digits(seed)
        for label, schedule in schedules.items():
            seeded(seed)
            model = _mlp([128, 128])
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            train(model, data.x_train, data.y_train, optimizer, steps, batch, seed, schedule=schedule)
            measured.setdefault(f"{label} final train loss", []).append(
                evaluate(model, data.x_train, data.y_train)[0]
            )
            measured.setdefault(f"{label} dev acc", []).append(evaluate(model, data.x_dev, data.y_dev)[1])
    constant, decayed = measured["constant final train loss"], measured["cosine decay final train loss"]
    return Finding(
        claim="Learning-rate decay ends lower than a constant rate.",
        setting=f"MLP 64-128-128-10, SGD lr {lr}, {steps} steps of {batch}, constant vs cosine decay to 0",
        measured=measured,
        rule=f"confirmed: a lower final training loss with decay, {EXCEEDS_RULE}",
        verdict="confirmed" if exceeds(constant, decayed) else "not confirmed here",
        note=f"final loss {summary(constant, 5)} constant vs {summary(decayed, 5)} decayed; dev accuracy "
        f"{summary(measured['constant dev acc'])} vs {summary(measured['cosine decay dev acc'])}",
    )
