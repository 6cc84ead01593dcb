"""A tiny pipeline of two models, then what the user browses and runs after it: diagnosis,
MLflow runs, the champion alias, `dlpipe predict` and the notebooks."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import mlflow
import nbformat
import numpy as np
import pytest
import yaml
from nbclient import NotebookClient
from PIL import Image

from conftest import REPO, TINY, merge, run_cli
from dlpipe import disk, tracking
from dlpipe.config import load_params
from dlpipe.stages import augment, evaluate, export, leaderboard, split, train

OVERRIDES = {
    "data": {"train_dev": 0.1},
    "models": {"logreg": {"train": {"epochs": 2}}, "lenet5": {}},
    "evaluate": {"primary_metric": "weighted_error", "class_weights": {"3": 5}, "bayes_error": 0.005},
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("champion")
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump(merge(merge(defaults, TINY), OVERRIDES)))
    previous = Path.cwd()
    os.chdir(root)
    try:
        params = load_params()
        split.run(params)
        augment.run(params)
        for name in params.models:
            train.run(params, name)
            evaluate.run(params, name)
            export.run(params, name)
        leaderboard.run(params)
    finally:
        os.chdir(previous)
    return root


@pytest.fixture
def inside(pipeline: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(pipeline)
    return pipeline


def _report(name: str, file: str) -> Path:
    return Path("reports/models") / name / file


def test_checkpoint_and_diagnosis_follow_the_primary_metric(inside: Path):
    summary = json.loads(_report("lenet5", "train.json").read_text())
    assert summary["monitor"] == "val_weighted_error" and 0 <= summary["best_val_weighted_error"] < 0.2
    diagnosis = json.loads(_report("lenet5", "diagnosis.json").read_text())
    errors = diagnosis["errors"]
    assert errors["bayes"] == 0.005 and errors["train_dev"] is not None
    metrics = json.loads(_report("lenet5", "metrics.json").read_text())
    assert errors["test"] == metrics["weighted_error"]
    assert diagnosis["gaps"]["avoidable bias"] == pytest.approx(errors["train"] - 0.005, abs=1e-6)
    assert diagnosis["gaps"]["data mismatch"] == pytest.approx(errors["dev"] - errors["train_dev"], abs=1e-6)
    assert (
        f"**{diagnosis['dominant'].capitalize()} dominates.**"
        in _report("lenet5", "diagnosis.md").read_text()
    )
    assert 0 <= metrics["ece"] < 1 and "cost_error" in metrics


def test_plots_are_written_as_png_and_dvc_data(inside: Path):
    for file in ("per_class.png", "reliability.png", "worst.png", "confusion.png", "history.png"):
        with Image.open(_report("logreg", file)) as image:
            assert image.size[0] > 200, file
    with open(_report("logreg", "calibration.csv")) as handle:
        bins = list(csv.DictReader(handle))
    assert sum(int(b["examples"]) for b in bins) == 360
    with open(_report("logreg", "per_class.csv")) as handle:
        assert [row["class"] for row in csv.DictReader(handle)] == [str(d) for d in range(10)]


def test_mlflow_run_is_browsable_without_reading_files(inside: Path):
    params = load_params()
    client = tracking.client(params.tracking)
    run = client.get_run(tracking.read_run_id("lenet5"))
    tags = run.data.tags
    for tag in ("architecture", "dataset", "dataset_hash", "git_commit", "dvc_stage", "seed", "diagnosis"):
        assert tags.get(tag), tag
    assert tags["dvc_stage"] == "train@lenet5" and len(tags["dataset_hash"]) == 64
    assert tags["evaluate.primary_metric"] == "weighted_error" and tags["evaluate.tta"] == "none"
    metrics = run.data.metrics
    for key in (
        "test_accuracy",
        "test_weighted_error",
        "test_cost_error",
        "test_ece",
        "diagnosis.train_error",
        "diagnosis.dev_error",
        "diagnosis.avoidable_bias",
        "diagnosis.variance",
        "diagnosis.data_mismatch",
    ):
        assert key in metrics, key
    assert run.data.params["train.label_smoothing"] == "0.05"  # full names, flattened
    assert len(client.get_metric_history(run.info.run_id, "val_weighted_error")) == 2
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/diagnosis.md", "evaluation/reliability.png", "evaluation/worst.png"} <= artifacts


def test_champion_alias_points_at_the_leaderboards_best(inside: Path):
    with open("reports/leaderboard/classify.csv") as handle:
        best = next(row["model"] for row in csv.DictReader(handle) if row["model"] != "ensemble")
    champion = json.loads(Path("reports/champion.json").read_text())["classify"]
    assert champion["model"] == best
    params = load_params()
    client = tracking.client(params.tracking)
    version = client.get_model_version_by_alias(f"dlpipe-{best}", "champion")
    assert version.run_id == tracking.read_run_id(best)
    other = next(name for name in params.models if name != best)
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias(f"dlpipe-{other}", "champion")
    model = mlflow.pyfunc.load_model(f"models:/dlpipe-{best}@champion")
    test = disk.load_arrays(Path("data/classify/split/test.npz"))
    stats = disk.read_json(Path("data/classify/split/normalization.json"))
    x = ((test["x"][:4].transpose(0, 3, 1, 2) / 255.0 - stats["mean"][0]) / stats["std"][0]).astype(
        np.float32
    )
    output = model.predict(x)
    logits = output["logits"] if isinstance(output, dict) else np.asarray(output)
    assert np.asarray(logits).shape[0] == 4


def _recorded_prediction(name: str, index: int) -> str:
    with open(_report(name, "predictions.csv")) as handle:
        return list(csv.DictReader(handle))[index]["predicted"]


def test_predict_returns_the_label_evaluate_recorded(inside: Path, tmp_path: Path):
    test = disk.load_arrays(Path("data/classify/split/test.npz"))
    files = []
    for index in (0, 7):
        path = tmp_path / f"test{index}.png"
        Image.fromarray(test["x"][index][..., 0]).save(path)
        files.append(str(path))
    champion = json.loads(Path("reports/champion.json").read_text())["classify"]["model"]
    result = run_cli("predict", *files, cwd=inside)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"model: models:/dlpipe-{champion}@champion"
    for line, index in zip(lines[1:], (0, 7), strict=True):
        assert line.split(": ", 1)[1].split(" ")[0] == _recorded_prediction(champion, index)
    named = run_cli("predict", files[0], "--model", "logreg", cwd=inside)
    assert named.stdout.splitlines()[1].split(": ", 1)[1].split(" ")[0] == _recorded_prediction("logreg", 0)


def test_predict_on_missing_or_bad_images_is_a_one_line_error(inside: Path, tmp_path: Path):
    missing = run_cli("predict", str(tmp_path / "nope.png"), cwd=inside)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"{tmp_path / 'nope.png'}: no such image file"
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    broken = run_cli("predict", str(bad), cwd=inside)
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1
    assert broken.stderr.startswith(f"{bad}: not a readable image")
    assert broken.stdout == ""


@pytest.mark.parametrize("notebook", ["01_data.ipynb", "02_compare_runs.ipynb"])
def test_notebooks_run_without_errors(inside: Path, notebook: str):
    book = nbformat.read(REPO / "notebooks" / notebook, as_version=4)
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(inside)}}
    ).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plots rendered
