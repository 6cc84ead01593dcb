"""How well embeddings verify and recognise identities never trained on.

- Verification: every pair of images is "same" or "different"; a pair is accepted when its
  squared distance is at most a threshold. The ROC sweeps the threshold: the true accept
  rate (TAR, same pairs accepted) against the false accept rate (FAR, different pairs
  accepted); AUC is its area, TAR@FAR the best TAR at a FAR no higher.
- The threshold a deployment needs is chosen on the validation identities (best accuracy
  on balanced same/different pairs) and then used, unchanged, on the test identities; the
  gap to the test split's own best threshold is what choosing it elsewhere costs.
- N-way one-shot recognition (Koch et al., 2015; Vinyals et al., 2016): an episode draws N
  identities, one "support" image of each and a query image of one of them; it is right
  when the nearest support is the query's identity.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

WAYS = (5, 20)  # the one-shot episodes' N: Koch et al.'s 20-way, and an easier 5-way


def pair_distances(embeddings: NDArray, identities: NDArray) -> tuple[NDArray, NDArray]:
    """Squared distances of every pair i < j, and whether each pair is of one identity.

    From the Gram matrix, ‖a‖² + ‖b‖² − 2a·b: 4,000 embeddings make 8 million pairs, whose
    differences alone would take 4 GB."""
    rows, cols = np.triu_indices(len(embeddings), k=1)
    embeddings = embeddings.astype(np.float64)
    squares = (embeddings**2).sum(axis=1)
    gram = embeddings @ embeddings.T
    distances = np.maximum(squares[rows] + squares[cols] - 2 * gram[rows, cols], 0.0)
    return distances, identities[rows] == identities[cols]


def roc(distances: NDArray, same: NDArray) -> dict[str, float | NDArray]:
    """AUC, TAR at FAR 1e-2 and 1e-3, and the curve (FAR, TAR) of accepting pairs by distance."""
    from sklearn.metrics import auc, roc_curve

    far, tar, _ = roc_curve(same, -distances)
    return {
        "auc": float(auc(far, tar)),  # what roc_auc_score computes, without sorting the pairs again
        "tar_at_far_1e-2": float(tar[far <= 1e-2].max()),
        "tar_at_far_1e-3": float(tar[far <= 1e-3].max()),
        "far": far,
        "tar": tar,
    }


def balanced_accuracy(distances: NDArray, same: NDArray, threshold: float) -> float:
    """The mean of the same pairs' and the different pairs' accuracy at ``threshold``."""
    accepted = distances <= threshold
    return float((accepted[same].mean() + (~accepted[~same]).mean()) / 2)


def best_threshold(distances: NDArray, same: NDArray) -> tuple[float, float]:
    """The threshold of best balanced accuracy (each distance tried) and that accuracy."""
    order = np.argsort(distances, kind="stable")
    ranked, matched = distances[order], same[order]
    # accepting the first k pairs: the same pairs among them, the different pairs after them
    true_accepts = np.cumsum(matched)
    true_rejects = (~matched).sum() - np.cumsum(~matched)
    accuracy = (true_accepts / max(matched.sum(), 1) + true_rejects / max((~matched).sum(), 1)) / 2
    best = int(np.argmax(accuracy))
    return float(ranked[best]), float(accuracy[best])


def draw_episodes(
    identities: NDArray, ways: int, count: int, seed: int
) -> Iterator[tuple[NDArray, int, int]]:
    """``count`` seeded ``ways``-way episodes: the supports' indices, the query's index, and the
    position of the query's identity among the supports."""
    rng = np.random.default_rng(seed)
    members = {identity: np.flatnonzero(identities == identity) for identity in np.unique(identities)}
    eligible = [identity for identity, found in members.items() if len(found) >= 2]
    if len(eligible) < ways:
        raise ValueError(
            f"{ways}-way episodes need {ways} identities with two images; there are {len(eligible)}"
        )
    for _ in range(count):
        chosen = rng.choice(eligible, size=ways, replace=False)
        supports = np.array([rng.choice(members[identity]) for identity in chosen])
        answer = int(rng.integers(ways))
        query = int(rng.choice(np.setdiff1d(members[chosen[answer]], supports[answer : answer + 1])))
        yield supports, query, answer


def nearest_support(embeddings: NDArray, supports: NDArray, query: int) -> int:
    """The position of the support nearest the query: the episode's answer."""
    return int(np.argmin(((embeddings[supports] - embeddings[query]) ** 2).sum(axis=1)))


def one_shot_accuracy(embeddings: NDArray, identities: NDArray, ways: int, episodes: int, seed: int) -> float:
    """The share of ``episodes`` seeded ``ways``-way one-shot episodes answered right."""
    right = sum(
        nearest_support(embeddings, supports, query) == answer
        for supports, query, answer in draw_episodes(identities, ways, episodes, seed)
    )
    return right / episodes
