"""Claims about generalisation: dropout, L2 and augmentation on too little data; mixup and
manifold mixup, on accuracy and under FGSM."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dlpipe.claims.common import (
    CLASSES,
    EXCEEDS_RULE,
    Finding,
    digits,
    evaluate,
    exceeds,
    seeded,
    subset,
    summary,
    train,
)
from dlpipe.models.convnet import convnet
from dlpipe.models.init import initialize
from dlpipe.models.mlp import MLP
from dlpipe.training import mixup
from dlpipe.training.regularization import l2_penalty

PER_CLASS, STEPS = 10, 1500


def shift(x: Tensor) -> Tensor:
    """Each image moved by up to one pixel each way (reflected border): the digits' crop augmentation."""
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    height, width = x.shape[-2:]
    offsets = torch.randint(0, 3, (len(x), 2)).tolist()
    return torch.stack(
        [
            image[:, top : top + height, left : left + width]
            for image, (top, left) in zip(padded, offsets, strict=True)
        ]
    )


def _gap(setting: str, seed: int) -> tuple[float, float]:
    """Training accuracy − dev accuracy, and the dev accuracy, after overfitting PER_CLASS a class."""
    data = digits(seed)
    x, y = subset(data.x_train, data.y_train, PER_CLASS, seed)
    seeded(seed)
    model = MLP(64, CLASSES, [256, 256], "relu", dropout=0.5 if setting == "dropout 0.5" else 0.0)
    initialize(model, "he")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
        value = F.cross_entropy(model(inputs), targets)
        return value + l2_penalty(model, 10.0, len(inputs)) if setting == "L2 (λ 10)" else value

    transform = shift if setting == "shift augmentation" else None
    train(model, x, y, optimizer, STEPS, 50, seed, loss=loss, transform=transform)
    train_acc, dev_acc = evaluate(model, x, y)[1], evaluate(model, data.x_dev, data.y_dev)[1]
    return train_acc - dev_acc, dev_acc


REGULARISERS = ("none", "dropout 0.5", "L2 (λ 10)", "shift augmentation")


def regularisers(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {}
    for seed in seeds:
        for setting in REGULARISERS:
            gap, dev = _gap(setting, seed)
            measured.setdefault(f"{setting}: train − dev accuracy", []).append(gap)
            measured.setdefault(f"{setting}: dev accuracy", []).append(dev)
    base = measured["none: train − dev accuracy"]
    shrinks = {s: exceeds(base, measured[f"{s}: train − dev accuracy"]) for s in REGULARISERS[1:]}
    return Finding(
        claim="Dropout, L2 and augmentation shrink the dev − train gap where a model overfits.",
        setting=f"MLP 64-256-256-10 on {PER_CLASS} training images a class, Adam lr 1e-3, "
        f"{STEPS} steps of 50",
        measured=measured,
        rule=f"confirmed: each shrinks the gap, {EXCEEDS_RULE}",
        verdict="confirmed" if all(shrinks.values()) else "not confirmed here",
        note="gap (dev accuracy): "
        + ", ".join(
            f"{s} {summary(measured[f'{s}: train − dev accuracy'], 3)} "
            f"({summary(measured[f'{s}: dev accuracy'], 3)})"
            for s in REGULARISERS
        ),
    )


EPSILONS = (0.1, 0.3)
MIX_PER_CLASS, MIX_STEPS = 30, 600


def fgsm_accuracy(model: nn.Module, x: Tensor, y: Tensor, epsilon: float) -> float:
    """Accuracy on x moved by ε·sign(∇ₓ loss) (Goodfellow et al., 2015), ε in standardised units."""
    model.eval()
    x = x.clone().requires_grad_(True)
    F.cross_entropy(model(x), y).backward()
    with torch.no_grad():
        return float((model(x + epsilon * x.grad.sign()).argmax(1) == y).float().mean())


def _mixed(setting: str, seed: int) -> dict[str, float]:
    data = digits(seed)
    x, y = subset(data.x_train, data.y_train, MIX_PER_CLASS, seed)
    seeded(seed)
    model = convnet(1, CLASSES, 8, widths=(16, 32), hidden=64)
    points = mixup.mixing_points(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
        if setting == "none":
            return F.cross_entropy(model(inputs), targets)
        lam = mixup.sample_lambda(1.0 if setting == "mixup (α 1)" else 2.0)
        permutation = torch.randperm(len(inputs))
        soft = mixup.mixed_targets(targets, permutation, lam, CLASSES)
        if setting == "mixup (α 1)":
            logits = model(mixup.mix(inputs, permutation, lam))
        else:  # manifold: the input or a hidden layer, drawn each step
            point = int(torch.randint(0, len(points) + 1, ()))
            if point == 0:
                logits = model(mixup.mix(inputs, permutation, lam))
            else:
                with mixup.mixing_at(model, points[point - 1], permutation, lam):
                    logits = model(inputs)
        return -(soft * F.log_softmax(logits, dim=1)).sum(dim=1).mean()

    train(model, x, y, optimizer, MIX_STEPS, 50, seed, loss=loss)
    found = {"dev accuracy": evaluate(model, data.x_dev, data.y_dev)[1]}
    for epsilon in EPSILONS:
        found[f"FGSM ε {epsilon} accuracy"] = fgsm_accuracy(model, data.x_dev, data.y_dev, epsilon)
    return found


MIXES = ("none", "mixup (α 1)", "manifold mixup (α 2)")


def mixup_claim(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {}
    for seed in seeds:
        for setting in MIXES:
            for key, value in _mixed(setting, seed).items():
                measured.setdefault(f"{setting}: {key}", []).append(value)
    keys = ["dev accuracy", *(f"FGSM ε {e} accuracy" for e in EPSILONS)]
    better = {key: exceeds(measured[f"mixup (α 1): {key}"], measured[f"none: {key}"]) for key in keys}
    manifold = {
        key: exceeds(measured[f"manifold mixup (α 2): {key}"], measured[f"mixup (α 1): {key}"])
        for key in keys
    }
    return Finding(
        claim="Mixup improves generalisation and robustness to adversarial examples; manifold mixup more so.",
        setting=f"convnet (16, 32 channels) on {MIX_PER_CLASS} training images a class, Adam lr 1e-3, "
        f"{MIX_STEPS} steps of 50; dev accuracy, and under FGSM at ε {', '.join(map(str, EPSILONS))} "
        "(standardised pixels)",
        measured=measured,
        rule=f"confirmed: mixup above none on dev accuracy and under every ε, and manifold mixup above mixup "
        f"on each, {EXCEEDS_RULE}",
        verdict="confirmed" if all(better.values()) and all(manifold.values()) else "not confirmed here",
        note="; ".join(
            f"{key}: " + ", ".join(f"{s} {summary(measured[f'{s}: {key}'], 3)}" for s in MIXES)
            for key in keys
        ),
    )
