"""Verification's evaluator: models/NAME + data/verify/split -> reports/models/NAME/.

The embeddings of identities never trained on (val and test), as tasks/verify/scores.py
judges them:

- metrics.json: ROC AUC and TAR at FAR 1e-2 and 1e-3 over every pair of test photos; the
  threshold chosen on the validation identities (best balanced accuracy), the test accuracy at
  it against the test's own best threshold, and the gap; 5- and 20-way one-shot accuracy
  (``verify.episodes`` seeded episodes each); the embeddings' spread;
- distances.png: the histograms of same and different pairs' distances, the threshold marked;
- roc.png: the test pairs' ROC on a log FAR axis, TAR at FAR 1e-2 and 1e-3 marked;
- one_shot.png: ``verify.examples`` seeded 5-way test episodes, the answer framed;
- embedding_map.png: the test embeddings of ``verify.examples`` identities projected on their
  two principal axes;
- diagnosis.json/.md: 1 − the primary metric on train, val and test identities.
"""

from __future__ import annotations

import numpy as np
import torch

from dlpipe import paths
from dlpipe.config import Params
from dlpipe.errors import DataError
from dlpipe.evaluation import report
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.tasks.verify import scores
from dlpipe.tasks.verify.scores import WAYS

PLOTS = ("distances.png", "roc.png", "one_shot.png", "embedding_map.png")


def val_threshold(name: str) -> float:
    """The squared distance below which a pair is accepted: the best on the validation identities."""
    model, _ = load_model(paths.model_file(name))
    x, identities, _ = split_inputs("verify", "val")
    distances, same = scores.pair_distances(predict_outputs(model, x), identities)
    return scores.best_threshold(distances, same)[0]


def scorer(threshold: float, episodes: int, seed: int) -> report.Score:
    def score(outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> dict:
        embeddings, identities = outputs.numpy(), targets.numpy()
        distances, same = scores.pair_distances(embeddings, identities)
        measured = scores.roc(distances, same)
        at_threshold = scores.balanced_accuracy(distances, same, threshold)
        _, best = scores.best_threshold(distances, same)
        found = {
            "auc": round(measured["auc"], 6),
            "tar_far_1e-2": round(measured["tar_at_far_1e-2"], 6),
            "tar_far_1e-3": round(measured["tar_at_far_1e-3"], 6),
            "threshold": round(threshold, 6),
            "acc_val_threshold": round(at_threshold, 6),
            "acc_best_threshold": round(best, 6),
            "threshold_gap": round(best - at_threshold, 6),
            "spread": round(float(np.linalg.norm(embeddings - embeddings.mean(0), axis=1).mean()), 6),
            "identities": len(np.unique(identities)),
            "examples": len(identities),
        }
        for ways in WAYS:
            if ways <= found["identities"]:
                found[f"way{ways}"] = scores.one_shot_accuracy(embeddings, identities, ways, episodes, seed)
        return found

    return score


def _distances_plot(distances: np.ndarray, same: np.ndarray, threshold: float, name: str) -> None:
    from dlpipe.evaluation.plots import distance_histograms

    distance_histograms(
        np.sqrt(distances[same]),
        np.sqrt(distances[~same]),
        np.sqrt(threshold),
        paths.report_dir(name) / "distances.png",
        f"{name}: test pairs' distances (threshold chosen on val)",
    )


def _roc_plot(distances: np.ndarray, same: np.ndarray, name: str) -> None:
    from dlpipe.evaluation.plots import roc_curve

    measured = scores.roc(distances, same)
    roc_curve(
        measured["far"],
        measured["tar"],
        {"FAR 1e-3": 1e-3, "FAR 1e-2": 1e-2},
        paths.report_dir(name) / "roc.png",
        f"{name}: test pairs' ROC (AUC {measured['auc']:.4f})",
    )


def _one_shot_plot(
    images: np.ndarray, embeddings: np.ndarray, identities: np.ndarray, count: int, seed: int, name: str
) -> None:
    from dlpipe.evaluation.plots import one_shot_episodes

    _, photos = np.unique(identities, return_counts=True)
    ways = min(WAYS[0], int((photos >= 2).sum()))  # a small test split: fewer candidates
    if ways < 2:
        raise DataError(
            f"{paths.split_file('verify', 'test')}: one-shot episodes need two identities with two photos"
        )
    rows = [
        (images[query], list(images[supports]), scores.nearest_support(embeddings, supports, query), answer)
        for supports, query, answer in scores.draw_episodes(identities, ways, count, seed)
    ]
    one_shot_episodes(
        rows,
        paths.report_dir(name) / "one_shot.png",
        f"{name}: {ways}-way one-shot test episodes (green: answered right, red: wrong)",
    )


def _embedding_map(
    embeddings: np.ndarray, identities: np.ndarray, names: list[str], count: int, name: str
) -> None:
    from dlpipe.evaluation.plots import embedding_map

    shown = np.isin(identities, np.unique(identities)[:count])
    centred = embeddings[shown] - embeddings[shown].mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    embedding_map(
        centred @ axes[:2].T,
        [names[i] for i in identities[shown]],
        paths.report_dir(name) / "embedding_map.png",
        f"{name}: test embeddings of {count} identities, two principal axes",
    )


def run(params: Params, name: str) -> None:
    settings = params.verify
    threshold = val_threshold(name)

    def plot(images: np.ndarray, targets: np.ndarray, outputs: np.ndarray, names: list[str]) -> None:
        distances, same = scores.pair_distances(outputs, targets)
        _distances_plot(distances, same, threshold, name)
        _roc_plot(distances, same, name)
        _one_shot_plot(images, outputs, targets, settings.examples, settings.data.seed, name)
        _embedding_map(outputs, targets, names, settings.examples, name)

    score = scorer(threshold, settings.episodes, settings.data.seed)
    metrics, found = report.evaluate(params, "verify", name, score, plot, list(PLOTS))
    ways = ", ".join(f"{w}-way {metrics[f'way{w}']:.4f}" for w in WAYS if f"way{w}" in metrics)
    print(
        f"evaluate@{name}: AUC {metrics['auc']:.4f}, TAR@FAR=1e-3 {metrics['tar_far_1e-3']:.4f}, "
        f"accuracy at the val threshold {metrics['acc_val_threshold']:.4f} "
        f"(best {metrics['acc_best_threshold']:.4f}), "
        f"{ways}; dominant gap: {found['dominant']}"
    )
