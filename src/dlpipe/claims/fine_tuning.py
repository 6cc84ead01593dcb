"""Transfer learning: with more target data, fine-tuning more layers pays."""

from __future__ import annotations

import torch
from torch import nn

from dlpipe.claims.common import (
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

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
PER_CLASS = (2, 10, 50)
# what is trained on the target: the last layer, the classifier (both linear layers), everything
TRAINED = {
    "last layer": ("classifier.4.",),
    "classifier": ("classifier.",),
    "all layers": ("",),
}


def _classes(x: torch.Tensor, y: torch.Tensor, classes: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    keep = torch.isin(y, torch.tensor(classes))
    return x[keep], y[keep] - classes[0]


def _pretrained(seed: int) -> nn.Module:
    data = digits(seed)
    x, y = _classes(data.x_train, data.y_train, SOURCE)
    seeded(seed)
    model = convnet(1, len(SOURCE), 8, widths=(16, 32), hidden=64)
    train(model, x, y, torch.optim.Adam(model.parameters(), lr=1e-3), 300, 64, seed)
    return model


def _fine_tuned(source: nn.Module, trained: tuple[str, ...], per_class: int, seed: int) -> float:
    data = digits(seed)
    x, y = subset(*_classes(data.x_train, data.y_train, TARGET), per_class, seed)
    model = convnet(1, len(TARGET), 8, widths=(16, 32), hidden=64)
    model.load_state_dict(source.state_dict())
    seeded(seed)
    model.classifier[4].reset_parameters()  # a head for other classes means nothing here
    chosen = [p for name, p in model.named_parameters() if name.startswith(trained)]
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(trained))
    train(model, x, y, torch.optim.Adam(chosen, lr=1e-3), 150, min(64, len(x)), seed)
    return evaluate(model, *_classes(data.x_dev, data.y_dev, TARGET))[1]


def fine_tuning(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {}
    for seed in seeds:
        source = _pretrained(seed)
        for per_class in PER_CLASS:
            for label, trained in TRAINED.items():
                accuracy = _fine_tuned(source, trained, per_class, seed)
                measured.setdefault(f"{per_class} a class, {label} trained", []).append(accuracy)
    few, many = PER_CLASS[0], PER_CLASS[-1]

    def gains(n: int) -> list[float]:
        """What training all layers adds over the last layer alone, per seed."""
        every, last = (
            measured[f"{n} a class, all layers trained"],
            measured[f"{n} a class, last layer trained"],
        )
        return [a - b for a, b in zip(every, last, strict=True)]

    return Finding(
        claim="With more target data, fine-tuning more layers pays.",
        setting="convnet (16, 32 channels) pretrained on digits 0–4 (300 Adam steps), fine-tuned on 5–9 with "
        f"{', '.join(map(str, PER_CLASS))} images a class for 150 Adam steps, training the last layer, the "
        "classifier, or all layers; target dev accuracy",
        measured=measured,
        rule=f"confirmed: what training all layers adds over the last layer alone is larger with {many} a "
        f"class than with {few}, {EXCEEDS_RULE}",
        verdict="confirmed" if exceeds(gains(many), gains(few)) else "not confirmed here",
        note=f"all layers over the last: {summary(gains(few), 3)} with {few} a class, "
        f"{summary(gains(many), 3)} with {many}; "
        + "; ".join(
            f"{n} a class: "
            + ", ".join(
                f"{label} {summary(measured[f'{n} a class, {label} trained'], 3)}" for label in TRAINED
            )
            for n in PER_CLASS
        ),
    )
