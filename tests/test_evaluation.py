"""Evaluation metrics and diagnosis on hand-computed and constructed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shipped
from dlpipe.data.split import Split, hold_out_train_dev
from dlpipe.errors import ConfigError
from dlpipe.evaluation.diagnosis import diagnose, to_markdown
from dlpipe.evaluation.metrics import cost_error, cost_matrix, expected_calibration_error, summary_metrics
from dlpipe.stages.leaderboard import rank
from dlpipe.tasks.classify.evaluate import worst_cases

NAMES = ["cat", "dog", "cow"]


def test_cost_matrix_error_against_hand_computed_cases():
    costs = cost_matrix(NAMES, {"cat": {"dog": 5.0}, "cow": {"cat": 0.5}})
    assert costs.tolist() == [[0, 5, 1], [1, 0, 1], [0.5, 1, 0]]
    y_true = np.array([0, 0, 1, 2, 2])
    y_pred = np.array([1, 2, 1, 0, 2])  # costs 5, 1, 0, 0.5, 0
    assert cost_error(y_true, y_pred, costs) == pytest.approx(6.5 / 5)


def test_with_no_costs_named_cost_error_is_the_plain_error():
    y_true, y_pred = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    metrics = summary_metrics(y_true, y_pred, np.ones(3), cost_matrix(NAMES, {}))
    assert metrics["cost_error"] == metrics["error_rate"] == metrics["weighted_error"] == 0.5


def test_cost_matrix_naming_an_unknown_class_is_a_config_error():
    with pytest.raises(ConfigError, match="evaluate.cost_matrix names unknown class 'horse'"):
        cost_matrix(NAMES, {"cat": {"horse": 2}})


def test_digit_class_names_in_the_cost_matrix_are_read_as_text():
    params = shipped("evaluate", cost_matrix={3: {8: 4}})
    assert params.cost_matrix == {"3": {"8": 4.0}}


@pytest.mark.parametrize(
    ("errors", "dominant"),
    [
        ({"train_error": 0.15, "dev_error": 0.16, "bayes_error": 0.01}, "avoidable bias"),
        ({"train_error": 0.01, "dev_error": 0.11, "bayes_error": 0.005}, "variance"),
        ({"train_error": 0.08, "dev_error": 0.10, "bayes_error": 0.075}, "variance"),
        ({"train_error": 0.02, "dev_error": 0.12, "train_dev_error": 0.03}, "data mismatch"),
        ({"train_error": 0.02, "dev_error": 0.12, "train_dev_error": 0.11}, "variance"),
    ],
)
def test_diagnosis_picks_the_dominant_gap(errors, dominant):
    result = diagnose(**errors)
    assert result["dominant"] == dominant
    assert result["remedies"]


def test_gaps_below_the_tolerance_are_noise():
    result = diagnose(train_error=0.0028, dev_error=0.0, test_error=0.0056, tolerance=0.005)
    assert result["dominant"] == "none"
    assert "**No gap dominates:**" in to_markdown("resnet20", "error_rate", result)
    assert diagnose(train_error=0.0028, dev_error=0.0)["dominant"] == "avoidable bias"  # tolerance 0


def test_diagnosis_gaps_follow_their_definitions():
    result = diagnose(
        train_error=0.05, dev_error=0.09, test_error=0.1, bayes_error=0.01, train_dev_error=0.06
    )
    assert result["gaps"] == {
        "avoidable bias": pytest.approx(0.04),
        "variance": pytest.approx(0.01),
        "data mismatch": pytest.approx(0.03),
    }
    text = to_markdown("lenet5", "error_rate", result)
    assert "**Avoidable bias dominates.**" in text and "bigger network" in text


def test_calibration_error_of_a_perfectly_calibrated_predictor_is_near_zero():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.1, 1.0, 200_000)
    correct = rng.uniform(size=confidence.size) < confidence  # right with exactly its confidence
    ece, bins = expected_calibration_error(confidence, correct, bins=15)
    assert ece < 0.01
    assert sum(b["examples"] for b in bins) == confidence.size


def test_calibration_error_of_an_overconfident_predictor():
    confidence = np.full(1000, 0.99)
    correct = np.arange(1000) < 700  # 70% right at 99% confidence
    ece, _ = expected_calibration_error(confidence, correct)
    assert ece == pytest.approx(0.29)


def test_worst_cases_are_the_most_confident_mistakes():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.95, 0.05]])
    y_true = np.array([1, 0, 0, 0])  # mistakes: 0 (0.9 on class 0), 1 (0.8), 2 (0.6)
    cases = worst_cases(probabilities, y_true, count=2)
    assert [c["index"] for c in cases] == [0, 1]
    assert cases[0] == {"index": 0, "true": 1, "predicted": 0, "confidence": pytest.approx(0.9)}


def test_leaderboard_order_follows_the_primary_metric_in_its_direction():
    rows = [
        {"model": "a", "accuracy": 0.99, "weighted_error": 0.05, "cost_error": 0.02},
        {"model": "b", "accuracy": 0.98, "weighted_error": 0.03, "cost_error": 0.04},
    ]
    assert [r["model"] for r in rank(rows, "classify", "accuracy")] == ["a", "b"]
    assert [r["model"] for r in rank(rows, "classify", "weighted_error")] == ["b", "a"]
    assert [r["model"] for r in rank(rows, "classify", "cost_error")] == ["a", "b"]
    assert [r["rank"] for r in rank(rows, "classify", "weighted_error")] == [1, 2]
    points = [{"model": "a", "nme": 0.03, "pck": 0.9}, {"model": "b", "nme": 0.02, "pck": 0.8}]
    assert [r["model"] for r in rank(points, "landmarks", "nme")] == ["b", "a"]  # lower is better
    assert [r["model"] for r in rank(points, "landmarks", "pck")] == ["a", "b"]


def test_train_dev_is_held_out_of_train_stratified():
    labels = np.repeat([0, 1], 50)
    split = Split({"train": np.arange(60), "val": np.arange(60, 80), "test": np.arange(80, 100)})
    labels[:60] = np.tile([0, 1], 30)
    held = hold_out_train_dev(split, labels, 0.2, seed=0)
    assert len(held.indices["train_dev"]) == 12 and len(held.indices["train"]) == 48
    assert set(held.indices["train_dev"]).isdisjoint(held.indices["train"])
    assert np.bincount(labels[held.indices["train_dev"]]).tolist() == [6, 6]
    assert hold_out_train_dev(split, labels, 0.0, seed=0) is split
