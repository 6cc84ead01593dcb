"""Multi-crop test-time augmentation and ensembles, with the pipeline's own TTA code."""

from __future__ import annotations

import numpy as np
import torch

from dlpipe.claims.common import CLASSES, EXCEEDS_RULE, Finding, digits, exceeds, seeded, summary, train
from dlpipe.claims.regularisation import shift
from dlpipe.evaluation.metrics import probabilities
from dlpipe.evaluation.outputs import predict_outputs
from dlpipe.evaluation.tta import five_crops, predict_probabilities
from dlpipe.models.convnet import convnet

MEMBERS, STEPS = 3, 300


def _model(seed: int, data) -> torch.nn.Module:
    seeded(seed)
    model = convnet(1, CLASSES, 8, widths=(16, 32), hidden=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, data.x_train, data.y_train, optimizer, STEPS, 64, seed, transform=shift)
    return model.eval()


def _accuracy(probability: np.ndarray, y: torch.Tensor) -> float:
    return float((probability.argmax(1) == y.numpy()).mean())


def _five_crop(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """The five crops without their mirrors: a digit's mirror is another shape."""
    with torch.inference_mode():
        return sum(probabilities(predict_outputs(model, view)) for view in five_crops(x, 1)) / 5


def tta_ensemble(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {}
    for seed in seeds:
        data = digits(seed)
        models = [_model(seed * 100 + member, data) for member in range(MEMBERS)]
        x, y = data.x_dev, data.y_dev
        views = {
            "single model, one view": [predict_probabilities(m, x) for m in models],
            "flip": [predict_probabilities(m, x, "flip") for m in models],
            "ten-crop (padding 1)": [predict_probabilities(m, x, "ten_crop", 1) for m in models],
            "five-crop, no mirrors": [_five_crop(m, x) for m in models],
        }
        for label, found in views.items():
            measured.setdefault(label, []).append(float(np.mean([_accuracy(p, y) for p in found])))
        averaged = sum(views["single model, one view"]) / MEMBERS
        measured.setdefault(f"ensemble of {MEMBERS}", []).append(_accuracy(averaged, y))
    single = measured["single model, one view"]
    # the view judged is chosen beforehand: five crops, as a digit's mirror is another shape
    crops = exceeds(measured["five-crop, no mirrors"], single)
    flips = "hurts" if exceeds(single, measured["flip"]) else "does not hurt"
    ensemble = exceeds(measured[f"ensemble of {MEMBERS}"], single)
    return Finding(
        claim="Multi-crop test-time augmentation and ensembles improve accuracy.",
        setting=f"convnet (16, 32 channels) trained with one-pixel shifts, Adam lr 1e-3, {STEPS} steps "
        "of 64; "
        f"dev accuracy, each view's mean over {MEMBERS} models, and their ensemble (averaged probabilities)",
        measured=measured,
        rule="confirmed: five crops (no mirrors) and the ensemble each above one view of one model, "
        + EXCEEDS_RULE,
        verdict="confirmed" if crops and ensemble else "not confirmed here",
        note=", ".join(f"{label} {summary(values)}" for label, values in measured.items())
        + f"; flipping {flips} here (the flip and ten-crop views mirror the digits)",
    )
