import numpy as np
import pytest

from dlpipe.errors import ConfigError
from dlpipe.evaluation.metrics import (
    class_weight_vector,
    confusion_matrix,
    per_class_metrics,
    precision_recall,
    summary_metrics,
    weighted_error,
)

Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0])  # one mistake on class 0, one on class 2


def test_equal_weights_give_the_plain_error():
    assert weighted_error(Y_TRUE, Y_PRED, np.ones(3)) == pytest.approx(2 / 6)
    assert weighted_error(Y_TRUE, Y_PRED, np.full(3, 7.0)) == pytest.approx(2 / 6)


def test_costly_class_counts_more():
    # weights 10 for class 2: (1·1 + 10·1) / (1+1+1+1+10+10) = 11/24
    assert weighted_error(Y_TRUE, Y_PRED, np.array([1.0, 1.0, 10.0])) == pytest.approx(11 / 24)


def test_zero_weight_class_is_ignored():
    # class 0 weighs nothing: only the class-2 mistake counts, over 4 weighted examples
    assert weighted_error(Y_TRUE, Y_PRED, np.array([0.0, 1.0, 1.0])) == pytest.approx(1 / 4)


def test_all_weights_zero_is_an_error():
    with pytest.raises(ValueError, match="sum to 0"):
        weighted_error(Y_TRUE, Y_PRED, np.zeros(3))


def test_class_weights_by_name_default_to_one():
    assert class_weight_vector(["cat", "dog"], {"dog": 10}).tolist() == [1.0, 10.0]


def test_unknown_class_in_weights_names_it():
    with pytest.raises(ConfigError, match="evaluate.class_weights names unknown class 'cow'"):
        class_weight_vector(["cat", "dog"], {"cow": 2})


def test_confusion_precision_recall_by_hand():
    matrix = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    precision, recall = precision_recall(matrix)
    assert precision.tolist() == pytest.approx([0.5, 2 / 3, 1.0])
    assert recall.tolist() == pytest.approx([0.5, 1.0, 0.5])


def test_reports_round_and_name_classes():
    summary = summary_metrics(Y_TRUE, Y_PRED, np.array([1.0, 1.0, 10.0]))
    assert summary == {
        "examples": 6,
        "accuracy": 0.666667,
        "error_rate": 0.333333,
        "weighted_error": 0.458333,
        "cost_error": 0.333333,  # no cost matrix: every mistake costs 1
    }
    per_class = per_class_metrics(Y_TRUE, Y_PRED, ["a", "b", "c"], np.array([1.0, 1.0, 10.0]))
    assert per_class["c"] == {"precision": 1.0, "recall": 0.5, "support": 2, "weight": 10.0}
