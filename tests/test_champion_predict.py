"""A tiny pipeline of two models, then what the user browses and runs after it: diagnosis,
MLflow runs, the champion alias, `dlpipe predict` and the notebooks."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import mlflow
import nbformat
import numpy as np
import pytest
import torch
import yaml
from nbclient import NotebookClient
from PIL import Image

from conftest import REPO, run_cli, write_params
from dlpipe import disk, tracking
from dlpipe.config import load_params
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.stages import augment, evaluate, export, leaderboard, split, train

OVERRIDES = {
    "data": {"train_dev": 0.1},
    "models": {"logreg": {"train": {"epochs": 2}}, "lenet5": {}},
    "evaluate": {"primary_metric": "weighted_error", "class_weights": {"3": 5}, "bayes_error": 0.005},
}


def _git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    return subprocess.run(
        ["git", *identity, *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("champion")
    write_params(root, OVERRIDES)
    _git(root, "init", "-q")
    _git(root, "add", "params.yaml")
    _git(root, "commit", "-qm", "tiny")
    with contextlib.chdir(root):
        params = load_params()
        split.run(params)
        augment.run(params)
        for name in params.models:
            train.run(params, name)
            evaluate.run(params, name)
            export.run(params, name)
        leaderboard.run(params)
    return root


@pytest.fixture
def inside(pipeline: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(pipeline)
    return pipeline


def _report(name: str, file: str) -> Path:
    return Path("reports/models") / name / file


CLASS_3_WEIGHT = 5.0  # OVERRIDES' evaluate.class_weights


def _weighted_error_by_hand(model, split_name: str) -> tuple[float, float]:
    """(weighted error, plain error) of ``model`` on a split: mistakes on a 3 count five times."""
    x, y, class_names = split_inputs("classify", split_name)
    assert class_names[3] == "3"
    predicted = predict_outputs(model, x).argmax(axis=1)
    weights = np.where(y == 3, CLASS_3_WEIGHT, 1.0)
    return float((weights * (predicted != y)).sum() / weights.sum()), float((predicted != y).mean())


def test_checkpoint_is_the_epoch_with_the_best_weighted_error(inside: Path):
    summary = json.loads(_report("lenet5", "train.json").read_text())
    assert summary["monitor"] == "val_weighted_error"
    with open(_report("lenet5", "history.csv")) as handle:
        per_epoch = [float(row["val_weighted_error"]) for row in csv.DictReader(handle)]
    assert len(per_epoch) == 2
    client = tracking.client(load_params().tracking)
    logged = client.get_metric_history(tracking.read_run_id("lenet5"), "val_weighted_error")
    assert [m.value for m in sorted(logged, key=lambda m: m.step)] == pytest.approx(per_epoch, abs=1e-6)
    model, _ = load_model(Path("models/lenet5/model.pt"))
    weighted, plain = _weighted_error_by_hand(model, "val")
    assert weighted != pytest.approx(plain, abs=1e-4)  # the uneven weights change the number
    assert weighted == pytest.approx(min(per_epoch), abs=1e-6)
    assert summary["best_val_weighted_error"] == pytest.approx(weighted, abs=1e-6)


def test_diagnosis_errors_are_each_splits_weighted_error_by_hand(inside: Path):
    model, _ = load_model(Path("models/lenet5/model.pt"))
    by_hand = {
        "bayes": 0.005,
        "train": _weighted_error_by_hand(model, "train")[0],  # the un-augmented train split
        "train_dev": _weighted_error_by_hand(model, "train_dev")[0],
        "dev": _weighted_error_by_hand(model, "val")[0],
        "test": _weighted_error_by_hand(model, "test")[0],
    }
    diagnosis = json.loads(_report("lenet5", "diagnosis.json").read_text())
    assert diagnosis["errors"] == pytest.approx(by_hand, abs=1e-6)
    metrics = json.loads(_report("lenet5", "metrics.json").read_text())
    assert metrics["weighted_error"] == pytest.approx(by_hand["test"], abs=1e-6)
    assert metrics["error_rate"] == pytest.approx(_weighted_error_by_hand(model, "test")[1], abs=1e-6)
    gaps = {
        "avoidable bias": by_hand["train"] - 0.005,
        "variance": by_hand["train_dev"] - by_hand["train"],
        "data mismatch": by_hand["dev"] - by_hand["train_dev"],
    }
    assert diagnosis["gaps"] == pytest.approx(gaps, abs=1e-6)
    largest = max(gaps, key=lambda gap: gaps[gap])
    assert gaps[largest] > 0.005  # beyond evaluate.diagnosis_tolerance, so it dominates
    assert diagnosis["dominant"] == largest
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
    # MLflow's own source tags: the UI shows the command that reruns the run and its commit
    assert tags["mlflow.source.git.commit"] == _git(inside, "rev-parse", "HEAD")  # not "unknown"
    assert tags["mlflow.source.name"] == "dvc repro train@lenet5"
    digest = hashlib.sha256()  # every array of every split file, hashed by hand
    for name in ("test", "train", "train_dev", "val"):  # sorted
        arrays = disk.load_arrays(Path(f"data/classify/split/{name}.npz"))
        for key in sorted(arrays):
            array = np.ascontiguousarray(arrays[key])
            digest.update(f"{name}/{key}:{array.dtype}:{array.shape}".encode() + array.tobytes())
    assert digest.hexdigest() == disk.read_json(Path("reports/classify/split.json"))["content_hash"]
    # The split as the run's dataset input: the UI's Dataset column and filter
    (logged,) = run.inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest) == ("digits", digest.hexdigest()[:16])
    assert logged.dataset.source == json.dumps({"uri": str(inside.resolve() / "data/classify/split")})
    assert [(tag.key, tag.value) for tag in logged.tags] == [("mlflow.data.context", "training")]
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # MLflow's kind
    diagnosis = json.loads(_report("lenet5", "diagnosis.json").read_text())
    shown = ("architecture", "model", "family", "seed", "diagnosis")
    assert {key: tags[key] for key in shown} == {
        "architecture": "lenet5",
        "model": "lenet5",
        "family": "classify",
        "seed": "42",
        "diagnosis": diagnosis["dominant"],
    }
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


def _champion(client, params) -> dict[str, int]:
    """Model -> version of its registered model that holds the alias, over every model."""
    holders = {}
    for name in params.models:
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            holders[name] = int(client.get_model_version_by_alias(f"dlpipe-{name}", "champion").version)
    return holders


def _newest(client, name: str) -> int:
    return max(int(v.version) for v in client.search_model_versions(f"name='dlpipe-{name}'"))


def test_champion_alias_points_at_the_leaderboards_best(inside: Path):
    with open("reports/leaderboard/classify.csv") as handle:
        best = next(row["model"] for row in csv.DictReader(handle) if row["model"] != "ensemble")
    champion = json.loads(Path("reports/champion.json").read_text())["classify"]
    assert champion["model"] == best
    params = load_params()
    client = tracking.client(params.tracking)
    version = client.get_model_version_by_alias(f"dlpipe-{best}", "champion")
    assert version.run_id == tracking.read_run_id(best)
    assert _champion(client, params) == {best: _newest(client, best)}  # the only holder
    model = mlflow.pyfunc.load_model(f"models:/dlpipe-{best}@champion")
    test = disk.load_arrays(Path("data/classify/split/test.npz"))
    stats = disk.read_json(Path("data/classify/split/normalization.json"))
    x = ((test["x"][:4].transpose(0, 3, 1, 2) / 255.0 - stats["mean"][0]) / stats["std"][0]).astype(
        np.float32
    )
    output = model.predict(x)
    logits = output["logits"] if isinstance(output, dict) else np.asarray(output)
    eager, _ = load_model(Path("models") / best / "model.pt")
    np.testing.assert_allclose(np.asarray(logits), predict_outputs(eager, torch.from_numpy(x)), atol=1e-4)


def _rewrite_metrics(name: str, weighted_error: float) -> None:
    path = _report(name, "metrics.json")
    metrics = json.loads(path.read_text())
    metrics.update(weighted_error=weighted_error, accuracy=1 - weighted_error, cost_error=weighted_error)
    path.write_text(json.dumps(metrics))


def test_champion_alias_moves_to_the_new_best_and_never_to_the_ensemble(
    pipeline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # A copy of the project's reports and tracking store, so the shared pipeline stays as it is.
    shutil.copytree(pipeline / "reports", tmp_path / "reports")
    for file in ("mlflow.db", "params.yaml"):
        shutil.copy(pipeline / file, tmp_path / file)
    monkeypatch.chdir(tmp_path)
    params = load_params()
    client = tracking.client(params.tracking)
    before = json.loads(Path("reports/champion.json").read_text())["classify"]["model"]
    other = next(name for name in params.models if name != before)

    _rewrite_metrics(before, 0.5)
    _rewrite_metrics(other, 0.01)
    leaderboard.run(params)
    assert json.loads(Path("reports/champion.json").read_text())["classify"]["model"] == other
    assert _champion(client, params) == {other: _newest(client, other)}  # moved: the old best lost it

    # An ensemble that beats both members is ranked first, but it is no registered model.
    config = yaml.safe_load(Path("params.yaml").read_text())
    config["leaderboard"]["ensemble"] = [before, other]
    Path("params.yaml").write_text(yaml.safe_dump(config))
    labels = disk.load_arrays(Path(f"reports/models/{before}/test_probabilities.npz"))["labels"]
    for name in (before, other):
        arrays = disk.load_arrays(Path(f"reports/models/{name}/test_probabilities.npz"))
        arrays["probabilities"] = np.eye(10, dtype=np.float32)[labels]  # perfect
        disk.save_arrays(Path(f"reports/models/{name}/test_probabilities.npz"), arrays)
    _rewrite_metrics(before, 0.02)
    leaderboard.run(load_params())
    with open("reports/leaderboard/classify.csv") as handle:
        assert [row["model"] for row in csv.DictReader(handle)] == ["ensemble", other, before]
    assert json.loads(Path("reports/champion.json").read_text())["classify"]["model"] == other
    assert _champion(client, params) == {other: _newest(client, other)}
    assert client.search_registered_models("name='dlpipe-ensemble'") == []


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
    good = tmp_path / "good.png"
    Image.fromarray(disk.load_arrays(Path("data/classify/split/test.npz"))["x"][0][..., 0]).save(good)
    broken = run_cli("predict", str(good), str(bad), cwd=inside)  # a good image first
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1
    assert broken.stderr.startswith(f"{bad}: not a readable image")
    assert broken.stdout == ""  # nothing for the good image either: all or nothing


@pytest.mark.parametrize("notebook", ["01_data.ipynb", "02_compare_runs.ipynb"])
def test_notebooks_run_without_errors(inside: Path, notebook: str):
    book = nbformat.read(REPO / "notebooks" / notebook, as_version=4)
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(inside)}}
    ).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plots rendered
