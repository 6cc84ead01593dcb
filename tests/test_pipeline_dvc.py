"""The real `dvc repro` on a temporary copy of the project, with tiny settings."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import chromium
from conftest import dvc_env, dvc_project

pytestmark = pytest.mark.slow


ENTRIES = {
    "classify": "lenet5",
    "localize": "lenet5_box",
    "landmarks": "corners",
    "detect": "yolo",
    "verify": "siamese",
    "clips": "c3d",
}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=dvc_env(cwd), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "dvc", *args, cwd=cwd)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline") / "project"
    dvc_project(root)
    # as `make run` does it; later commands here run each stage in its own process
    repro = _run(sys.executable, "-m", "dlpipe.preload", sys.executable, "-m", "dvc", "repro", cwd=root)
    (root.parent / "repro.stderr").write_text(repro.stderr)
    return root


def test_make_runs_every_stage_in_a_preloaded_worker(pipeline: Path):
    stderr = (pipeline.parent / "repro.stderr").read_text()
    stages = [f"{stage} {family}" for stage in ("split", "augment") for family in ENTRIES]
    stages += ["transfer", "stylize", "leaderboard", "lab_report"]
    stages += [f"{stage} {name}" for stage in ("train", "evaluate", "export") for name in ENTRIES.values()]
    for stage in stages:
        assert f"dlpipe.preload: {stage} took " in stderr
    last = stderr.strip().splitlines()[-1]
    assert last == f"dlpipe.preload: {len(stages)} stage(s) ran in preloaded workers"


def test_repro_writes_every_declared_output(pipeline: Path):
    for path in (
        "data/classify/split/train.npz",
        "data/classify/augmented/train.npz",
        "reports/classify/split.json",
        "reports/classify/augment_preview.png",
        "models/lenet5/model.pt",
        "models/lenet5/model.onnx",
        "models/lenet5/model.pt2",
        "reports/models/lenet5/history.csv",
        "reports/models/lenet5/history.png",
        "reports/models/lenet5/metrics.json",
        "reports/models/lenet5/confusion.png",
        "reports/models/lenet5/export.json",
        "reports/models/lenet5/diagnosis.md",
        "reports/models/lenet5/calibration.csv",
        "reports/models/lenet5/worst.png",
        "reports/index.html",
        "data/localize/augmented/train.npz",
        "reports/landmarks/augment_preview.png",
        "models/lenet5_box/model.onnx",
        "reports/models/lenet5_box/boxes.png",
        "models/corners/model.onnx",
        "reports/models/corners/points.png",
        "reports/champion.json",
        "reports/transfer/metrics.json",
        "reports/leaderboard.md",
        "reports/leaderboard/classify.csv",
        "reports/leaderboard/localize.png",
        "reports/leaderboard/landmarks.csv",
        "reports/models/c3d/clips.png",
        "reports/style/gallery.png",
        "reports/style/losses.png",
        "reports/style/metrics.json",
    ):
        assert (pipeline / path).is_file(), path
    assert not (pipeline / "mlruns").exists()


def test_leaderboard_rows_are_the_metrics_files(pipeline: Path):
    shown = {
        "classify": ("accuracy", "weighted_error", "cost_error"),
        "localize": ("object_accuracy", "class_accuracy", "mean_iou", "iou50"),
        "landmarks": ("nme", "pck"),
        "detect": ("map50", "map", "mar100"),
        "verify": ("way20", "way5", "auc", "tar_far_1e-3", "acc_val_threshold", "threshold_gap"),
        "clips": ("accuracy",),
    }
    costs = ("parameters", "macs_per_image", "train_seconds", "onnx_latency_ms")
    champions = json.loads((pipeline / "reports/champion.json").read_text())
    for family, name in ENTRIES.items():
        reports = pipeline / "reports/models" / name
        metrics, trained, exported = (
            json.loads((reports / file).read_text()) for file in ("metrics.json", "train.json", "export.json")
        )
        with open(pipeline / f"reports/leaderboard/{family}.csv") as file:
            rows = list(csv.DictReader(file))
        # One row per model (TINY trains one a family), every value the stage reports' own.
        assert rows == [
            {
                "rank": "1",
                "model": name,
                "architecture": trained["architecture"],
                **{column: str(metrics[column]) for column in shown[family]},
                **{column: str(trained[column]) for column in costs[:3]},
                "onnx_latency_ms": str(exported["onnx_latency_ms"]),
            }
        ], family
        assert list(rows[0]) == ["rank", "model", "architecture", *shown[family], *costs], family
        assert champions[family]["model"] == name, family


def test_the_lab_report_shows_every_family_and_links_each_model_to_its_run(pipeline: Path):
    page = (pipeline / "reports/index.html").read_text()
    experiment = (
        sqlite3.connect(pipeline / "mlflow.db")
        .execute("select experiment_id from experiments where name = 'dlpipe'")
        .fetchone()[0]
    )
    for family, name in ENTRIES.items():
        run_id = json.loads((pipeline / "models" / name / "run.json").read_text())["run_id"]
        assert f'<a href="http://127.0.0.1:5000/#/experiments/{experiment}/runs/{run_id}">{name}</a>' in page
        assert f'<section id="{family}">' in page
        assert f'src="leaderboard/{family}.png"' in page and f'src="{family}/augment_preview.png"' in page
    for figure in ("models/lenet5/confusion.png", "models/siamese/roc.png", "models/yolo/boxes.png"):
        assert f'src="{figure}"' in page, figure
    for name in ENTRIES.values():  # each diagnosis, rendered: its heading and its advice
        assert f"<h1>Diagnosis: {name}</h1>" in page and "dominates" in page
    assert 'src="style/gallery.png"' in page and '<section id="transfer">' in page


@pytest.mark.skipif(chromium.CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_lab_report_opens_offline_in_chromium_with_every_image_loaded(pipeline: Path, tmp_path: Path):
    folder = pipeline / "reports"
    loaded = chromium.load((folder / "index.html").as_uri())
    outside = [url for url in loaded.requests if not url.startswith(folder.as_uri() + "/")]
    assert outside == []  # nothing from the network, nothing from outside reports/
    assert len(loaded.images) >= 30
    assert [image["src"] for image in loaded.images if image["width"] == 0 or image["height"] == 0] == []
    (tmp_path / "lab_report.png").write_bytes(loaded.screenshot)
    shot = np.asarray(Image.open(tmp_path / "lab_report.png").convert("L"), dtype=float)
    assert shot.std() > 10  # text, tables and figures, not a blank page


def test_second_repro_does_nothing(pipeline: Path):
    result = _dvc("repro", cwd=pipeline)
    assert "Running stage" not in result.stdout
    assert "Data and pipelines are up to date." in result.stdout


def test_bytecode_beside_the_code_is_not_a_dependency(pipeline: Path):
    """Python compiles each module into __pycache__ on first import, inside the code folders
    that stages depend on; a later model's stage imports modules an earlier one did not."""
    compiled = pipeline / "src" / "dlpipe" / "models" / "__pycache__" / "vgg.cpython-311.pyc"
    compiled.parent.mkdir(exist_ok=True)
    compiled.write_bytes(b"compiled by a later stage")
    try:
        assert "Data and pipelines are up to date." in _dvc("status", cwd=pipeline).stdout
    finally:
        compiled.unlink()


def test_metrics_and_plots_commands_work(pipeline: Path):
    metrics = json.loads(_dvc("metrics", "show", "--json", cwd=pipeline).stdout)
    data = metrics[""]["data"]["reports/models/lenet5/metrics.json"]
    assert "error" not in data
    assert data["data"] == json.loads((pipeline / "reports/models/lenet5/metrics.json").read_text())
    _dvc("plots", "show", "--out", "plots_html", cwd=pipeline)
    html = (pipeline / "plots_html/index.html").read_text()
    for plot in (
        "history.csv",
        "predictions.csv",
        "per_class.csv",
        "calibration.csv",
        "history.png",
        "worst.png",
    ):
        assert plot in html, plot


def test_unrelated_param_edit_reruns_only_what_reads_it(pipeline: Path):
    params = yaml.safe_load((pipeline / "params.yaml").read_text())
    params["export"]["latency_runs"] = 6
    (pipeline / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = _dvc("status", "--json", cwd=pipeline).stdout
    assert set(json.loads(status)) == {
        "export@lenet5",
        "export_localize@lenet5_box",
        "export_landmarks@corners",
        "export_detect@yolo",
        "export_verify@siamese",
        "export_clips@c3d",
    }


def test_exp_run_changes_a_parameter(pipeline: Path):
    _run("git", "add", "-A", cwd=pipeline)
    _run("git", "commit", "-qm", "baseline", cwd=pipeline)
    # one target: train.epochs is read by every family's training, and the others add nothing here
    result = _dvc("exp", "run", "-S", "train.epochs=1", "evaluate@lenet5", cwd=pipeline)
    assert "Running stage 'train@lenet5'" in result.stdout
    assert "Running stage 'split@classify'" not in result.stdout
    history = (pipeline / "reports/models/lenet5/history.csv").read_text().splitlines()
    assert len(history) == 2  # header + the one epoch


def _experiments(pipeline: Path) -> dict[str, dict]:
    """name -> the params.yaml and lenet5 metrics `dvc exp show` has for each experiment."""
    shown = json.loads(_dvc("exp", "show", "--json", cwd=pipeline).stdout)
    found = {}
    for commit in shown:
        for experiment in commit.get("experiments") or []:
            for rev in experiment["revs"]:
                data = rev["data"]
                found[rev["name"]] = {
                    "params": data["params"]["params.yaml"]["data"],
                    "metrics": data["metrics"]["reports/models/lenet5/metrics.json"].get("data"),
                }
    return found


def test_a_queued_sweep_runs_on_two_workers_and_exp_show_compares_it(pipeline: Path):
    _run("git", "add", "-A", cwd=pipeline)
    _run("git", "commit", "-qm", "before the sweep", cwd=pipeline)
    rates = {"lr-low": 0.001, "lr-high": 0.01}
    for name, lr in rates.items():
        _dvc("exp", "run", "--queue", "-n", name, "-S", f"train.lr={lr}", "evaluate@lenet5", cwd=pipeline)
    _dvc("queue", "start", "-j", "2", cwd=pipeline)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = _dvc("queue", "status", cwd=pipeline).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert status.count("Success") == 2, status

    experiments = _experiments(pipeline)
    for name, lr in rates.items():
        assert experiments[name]["params"]["train"]["lr"] == lr
        assert 0 < experiments[name]["metrics"]["accuracy"] <= 1  # each keeps its own metrics


def test_tune_stage_runs_only_when_enabled(pipeline: Path):
    assert "tune@" not in _dvc("stage", "list", cwd=pipeline).stdout  # the shipped tune.models is []
    params = yaml.safe_load((pipeline / "params.yaml").read_text())
    params["tune"].update(
        models=["lenet5"],
        trials=2,
        epochs=1,
        pruner="none",
        space={"train.lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True}},
    )
    (pipeline / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = _dvc("repro", "tune", cwd=pipeline)
    assert "Running stage 'tune@lenet5'" in result.stdout
    best = yaml.safe_load((pipeline / "reports/tune/lenet5/best_params.yaml").read_text())
    assert list(best["params"]) == ["models.lenet5.train.lr"]
    assert "Running stage" not in _dvc("repro", "tune", cwd=pipeline).stdout
