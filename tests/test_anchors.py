"""Anchors by k-means with 1 − IoU: they find the sizes the boxes come in, weigh small boxes as
much as large ones, and refuse what they cannot do in one line."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from dlpipe.errors import DataError
from dlpipe.tasks.detect.anchors import kmeans_anchors, size_iou


def test_size_iou_is_the_overlap_of_boxes_sharing_a_centre():
    iou = size_iou(np.array([[4.0, 2.0]]), np.array([[2.0, 4.0], [4.0, 2.0], [8.0, 4.0]]))
    assert np.allclose(iou, [[4 / 12, 1.0, 8 / 32]])


def test_three_kinds_of_box_give_their_three_sizes():
    rng = np.random.default_rng(0)
    kinds = np.array([[6.0, 8.0], [12.0, 24.0], [40.0, 20.0]])
    sizes = np.concatenate([kind * rng.uniform(0.95, 1.05, (200, 2)) for kind in kinds])
    anchors, mean_iou = kmeans_anchors(sizes, 3, seed=1)
    assert np.allclose(anchors, kinds, rtol=0.03)  # smallest area first
    assert mean_iou > 0.9
    again, _ = kmeans_anchors(sizes, 3, seed=1)
    assert np.array_equal(anchors, again)


def test_small_boxes_get_an_anchor_of_their_own_where_euclidean_distance_would_merge_them():
    # 100 tiny boxes (2 and 5 pixels) and 100 large ones spread from 50 to 70 pixels: in pixels the
    # tiny ones are one cluster and the large ones need two; by IoU a 2-pixel box and a 5-pixel one
    # overlap 0.16, as a 50-pixel box and a 125-pixel one would.
    sizes = np.array([[2.0, 2.0]] * 50 + [[5.0, 5.0]] * 50 + [[s, s] for s in np.linspace(50, 70, 100)])
    anchors, _ = kmeans_anchors(sizes, 3, seed=0)
    assert np.allclose(anchors[:2], [[2.0, 2.0], [5.0, 5.0]])
    assert 55 < anchors[2, 0] < 65
    euclidean = KMeans(3, n_init=10, random_state=0).fit(sizes).cluster_centers_[:, 0]
    assert sorted(euclidean)[1] > 50  # one centre for both tiny sizes


@pytest.mark.parametrize(
    "sizes, k, message",
    [
        (np.ones((2, 2)), 3, "anchors: 3 anchors asked of 2 training boxes"),
        (np.array([[1.0, 0.0]]), 1, "anchors: every box needs a width and height > 0"),
    ],
)
def test_impossible_requests_are_one_line(sizes, k, message):
    with pytest.raises(DataError, match=f"^{message}$"):
        kmeans_anchors(sizes, k, seed=0)
