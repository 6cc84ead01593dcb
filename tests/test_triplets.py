"""The triplet loss and its batch-hard form (tasks/verify/triplets.py), and the verification
and one-shot scores (tasks/verify/scores.py)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from dlpipe.tasks.verify.scores import (
    balanced_accuracy,
    best_threshold,
    one_shot_accuracy,
    pair_distances,
    roc,
)
from dlpipe.tasks.verify.triplets import batch_hard, squared_distances, triplet_loss


def test_the_triplet_loss_is_the_notes_hinge():
    anchor, positive = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    assert (
        float(triplet_loss(anchor, positive, torch.tensor([[2.0, 0.0]]), margin=0.5)) == 0.0
    )  # 1 − 4 + ½ < 0
    assert float(triplet_loss(anchor, positive, torch.tensor([[0.5, 0.0]]), margin=0.5)) == 1.25  # 1 − ¼ + ½


def test_the_triplet_loss_and_batch_hard_pass_the_gradient_check():
    generator = torch.Generator().manual_seed(0)
    a, p, n = (
        torch.randn(6, 4, generator=generator, dtype=torch.float64, requires_grad=True) for _ in range(3)
    )
    # a margin of 100 keeps every hinge open: the loss is smooth where it is checked
    assert torch.autograd.gradcheck(lambda a, p, n: triplet_loss(a, p, n, margin=100.0), (a, p, n))
    embeddings = torch.randn(8, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    identities = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for squared in (True, False):
        loss = partial(batch_hard, identities=identities, margin=100.0, squared=squared)
        assert torch.autograd.gradcheck(loss, (embeddings,))


def test_batch_hard_on_distances_still_learns_from_a_collapse():
    # every embedding alike: the squares' gradient is zero, the distances' is not
    identities = torch.tensor([0, 0, 1, 1])
    generator = torch.Generator().manual_seed(3)
    noise = torch.randn(4, 3, generator=generator, dtype=torch.float64) * 1e-3
    collapsed = (torch.ones(4, 3, dtype=torch.float64) + noise).requires_grad_()
    batch_hard(collapsed, identities, margin=0.2, squared=True).backward()
    squared_gradient = collapsed.grad.norm()
    collapsed.grad = None
    batch_hard(collapsed, identities, margin=0.2).backward()
    assert float(squared_gradient) < 0.01 and float(collapsed.grad.norm()) > 0.1


def test_batch_hard_takes_each_anchors_farthest_positive_and_nearest_negative():
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.randn(12, 5, generator=generator)
    identities = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4])  # identity 4 has no positive
    expected = []
    for i in range(11):
        positives = [j for j in range(12) if identities[j] == identities[i] and j != i]
        negatives = [j for j in range(12) if identities[j] != identities[i]]
        worst = max(
            float(triplet_loss(embeddings[i : i + 1], embeddings[p : p + 1], embeddings[n : n + 1], 0.2))
            for p in positives
            for n in negatives
        )
        expected.append(worst)
    squared = float(batch_hard(embeddings, identities, margin=0.2, squared=True))
    assert squared == pytest.approx(np.mean(expected), rel=1e-5)
    distances = torch.cdist(embeddings, embeddings)
    hinges = []
    for i in range(11):  # on distances: the same choice, as the root is monotonic
        same = identities == identities[i]
        positive = distances[i][same & (torch.arange(12) != i)].max()
        hinges.append(float((positive - distances[i][~same].min() + 0.2).clamp(min=0)))
    assert float(batch_hard(embeddings, identities, margin=0.2)) == pytest.approx(np.mean(hinges), rel=1e-4)
    assert torch.allclose(squared_distances(embeddings), torch.cdist(embeddings, embeddings) ** 2, atol=1e-5)


def test_batch_hard_refuses_a_batch_without_a_positive_pair():
    with pytest.raises(ValueError, match="two images of an identity and another identity"):
        batch_hard(torch.randn(3, 2), torch.tensor([0, 1, 2]), margin=0.2)


def test_roc_and_thresholds_on_hand_made_distances():
    distances = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 1.1])
    same = np.array([True, True, True, False, False, False])
    measured = roc(distances, same)
    assert measured["auc"] == 1.0 and measured["tar_at_far_1e-3"] == 1.0
    assert roc(-distances, same)["auc"] == 0.0
    threshold, accuracy = best_threshold(distances, same)
    assert (threshold, accuracy) == (0.3, 1.0)
    assert balanced_accuracy(distances, same, threshold=0.2) == pytest.approx((2 / 3 + 1) / 2)
    swapped = np.array([True, True, False, True, False, False])  # one same pair beyond a different one
    assert roc(distances, swapped)["auc"] == pytest.approx(8 / 9)


def test_pair_distances_cover_every_pair_once():
    embeddings = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    distances, same = pair_distances(embeddings, np.array([7, 7, 8]))
    assert distances.tolist() == [25.0, 1.0, 18.0] and same.tolist() == [True, False, False]


def test_one_shot_accuracy_is_one_on_separated_identities_and_chance_on_noise():
    rng = np.random.default_rng(0)
    identities = np.repeat(np.arange(30), 4)
    centres = rng.normal(size=(30, 16)) * 10
    clustered = centres[identities] + rng.normal(size=(120, 16)) * 0.1
    assert one_shot_accuracy(clustered, identities, ways=20, episodes=200, seed=0) == 1.0
    noise = rng.normal(size=(120, 16))
    assert one_shot_accuracy(noise, identities, ways=5, episodes=2000, seed=0) == pytest.approx(0.2, abs=0.03)
    assert one_shot_accuracy(noise, identities, 5, 300, seed=3) == one_shot_accuracy(
        noise, identities, 5, 300, seed=3
    )
    with pytest.raises(ValueError, match="40-way episodes need 40 identities with two images; there are 30"):
        one_shot_accuracy(noise, identities, ways=40, episodes=1, seed=0)


def test_batch_hard_equals_pytorch_metric_learnings_loss_with_its_batch_hard_miner():
    from pytorch_metric_learning import losses, miners, reducers

    generator = torch.Generator().manual_seed(2)
    embeddings = torch.nn.functional.normalize(torch.randn(16, 8, generator=generator), dim=1)
    identities = torch.arange(4).repeat_interleave(4)
    library = losses.TripletMarginLoss(margin=0.2, reducer=reducers.MeanReducer())  # the mean over anchors
    expected = library(embeddings, identities, miners.BatchHardMiner()(embeddings, identities))
    assert float(batch_hard(embeddings, identities, margin=0.2)) == pytest.approx(float(expected), rel=1e-5)
