"""Train LeNet-5 for two epochs once, then check what train, evaluate and export left behind."""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime
import pytest
import torch
import yaml

from conftest import run_stages, shipped
from dlpipe import formats, tracking
from dlpipe.config import load_params
from dlpipe.errors import ExportError
from dlpipe.evaluation.outputs import in_batches, predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.models.registry import ARCHITECTURES, DETECTORS, VIDEO, build_model
from dlpipe.stages import export


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trained")
    run_stages(root)
    with contextlib.chdir(root):
        export.run(load_params(), "lenet5")
    return root


@pytest.fixture
def inside(trained: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(trained)
    return trained


def test_history_has_one_row_per_epoch(inside: Path):
    with open(inside / "reports/models/lenet5/history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    summary = json.loads((inside / "reports/models/lenet5/train.json").read_text())
    assert summary["parameters"] == 61706  # LeNet-5 on 32×32, 10 classes
    assert summary["epochs"] == 2
    epochs = sum(float(row["seconds"]) for row in rows)
    assert summary["train_seconds"] == pytest.approx(epochs, abs=0.01)
    # Lightning's whole fit: the epochs, and its setup, checkpoints and teardown besides
    assert summary["fit_seconds"] > summary["train_seconds"]


def test_two_epochs_already_classify_digits(inside: Path):
    metrics = json.loads((inside / "reports/models/lenet5/metrics.json").read_text())
    assert metrics["accuracy"] > 0.9
    assert metrics["weighted_error"] == pytest.approx(metrics["error_rate"])
    assert metrics["examples"] == 360


def test_saved_model_is_the_best_epoch(inside: Path):
    """model.pt holds the weights that scored best_val_acc, rebuilt from the best checkpoint."""
    summary = json.loads((inside / "reports/models/lenet5/train.json").read_text())
    with open(inside / "reports/models/lenet5/history.csv") as handle:
        assert summary["best_val_acc"] == max(float(row["val_acc"]) for row in csv.DictReader(handle))
    model, spec = load_model(inside / "models/lenet5/model.pt")
    x, y, _ = split_inputs("classify", "val")
    accuracy = float(np.mean(predict_outputs(model, x).argmax(1) == y))
    assert accuracy == pytest.approx(summary["best_val_acc"], abs=1e-6)
    assert spec["arch"] == "lenet5" and not model.training


def test_same_seed_gives_identical_metrics(trained: Path, tmp_path: Path):
    run_stages(tmp_path)
    for name in ("metrics.json", "per_class.json", "predictions.csv"):
        ours = (tmp_path / "reports/models/lenet5" / name).read_bytes()
        assert ours == (trained / "reports/models/lenet5" / name).read_bytes(), name


def test_mlflow_run_holds_params_metrics_artifacts_and_model(inside: Path):
    run_id = json.loads((inside / "models/lenet5/run.json").read_text())["run_id"]
    client = tracking.client(shipped("tracking"))  # also points mlflow's fluent API at this store
    run = client.get_run(run_id)
    metrics = json.loads((inside / "reports/models/lenet5/metrics.json").read_text())
    assert run.info.status == "FINISHED"
    assert run.data.tags["architecture"] == "lenet5"
    assert [logged.dataset.name for logged in run.inputs.dataset_inputs] == ["digits"]
    assert run.data.params["train.lr"] == "0.003"
    assert run.data.metrics["test_accuracy"] == metrics["accuracy"]
    assert run.data.metrics["test_weighted_error"] == metrics["weighted_error"]
    with open(inside / "reports/models/lenet5/history.csv") as handle:
        val_acc = [float(row["val_acc"]) for row in csv.DictReader(handle)]
    logged = sorted(client.get_metric_history(run_id, "val_acc"), key=lambda m: m.step)
    assert [m.value for m in logged] == pytest.approx(val_acc, abs=1e-6)  # one value an epoch
    steps_per_epoch = -(-2 * 1077 // 64)  # originals + one augmented copy, batch 64
    lrs = sorted(client.get_metric_history(run_id, "lr"), key=lambda m: m.step)
    assert [m.step for m in lrs] == list(range(2 * steps_per_epoch))  # the lr of every step
    assert max(m.value for m in lrs) == pytest.approx(0.003, rel=0.01)  # onecycle peaks at train.lr
    assert len(client.get_metric_history(run_id, "train_loss_smooth_step")) == 2 * steps_per_epoch
    artifacts = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    assert "evaluation/confusion.png" in artifacts
    assert str(inside / "mlartifacts") in run.info.artifact_uri
    assert not (inside / "mlruns").exists()

    (version,) = client.search_model_versions("name='dlpipe-lenet5'")
    assert version.run_id == run_id
    model = mlflow.pyfunc.load_model(f"models:/dlpipe-lenet5/{version.version}")
    # a signature and an input example: one normalised test image, any batch size
    (images,) = model.metadata.get_input_schema().inputs
    assert images.shape == (-1, 1, 32, 32)
    assert model.input_example.shape == (1, 1, 32, 32)
    x, _, _ = split_inputs("classify", "test")
    predicted = model.predict(x[:8].numpy())
    logits = predicted["logits"] if isinstance(predicted, dict) else np.asarray(predicted)
    eager, _ = load_model(inside / "models/lenet5/model.pt")  # the registered model is model.pt
    np.testing.assert_allclose(logits, predict_outputs(eager, x[:8]), atol=1e-4)
    with open(inside / "reports/models/lenet5/predictions.csv") as handle:
        recorded = [int(row["predicted"]) for row in csv.DictReader(handle)][:8]
    assert np.asarray(logits).argmax(axis=1).tolist() == recorded


def test_exported_models_match_eager_and_predictions(inside: Path):
    report = json.loads((inside / "reports/models/lenet5/export.json").read_text())
    x, _, _ = split_inputs("classify", "test")
    eager = predict_outputs(load_model(inside / "models/lenet5/model.pt")[0], x)
    session = onnxruntime.InferenceSession(str(inside / "models/lenet5/model.onnx"))
    onnx_logits = session.run(None, {"images": x.numpy()})[0]
    program = torch.export.load(str(inside / "models/lenet5/model.pt2"))
    traced = program.module()
    with torch.inference_mode():
        program_logits = in_batches(lambda batch: traced(batch).numpy(), x, torch.contiguous_format)
    # The program keeps its two example images, not the storage of the split they came from.
    (example,), _ = program.example_inputs
    assert example.shape == (2, *x.shape[1:])
    assert example.untyped_storage().nbytes() == example.numel() * example.element_size()
    # The report's differences are the ones the shipped files give on the images compared: the
    # first export.parity_examples (256) of the 360 test images.
    assert set(report) == {
        "onnx_max_abs_diff",
        "pt2_max_abs_diff",
        "threshold",
        "test_examples",
        "eager_latency_ms",
        "onnx_latency_ms",
        "onnx_speedup",
    }
    assert report["threshold"] == 1e-4 and report["test_examples"] == 256
    # rounded to 6 decimals in the report: equal within half of its last digit
    compared = slice(0, report["test_examples"])
    for key, logits in (("onnx_max_abs_diff", onnx_logits), ("pt2_max_abs_diff", program_logits)):
        assert report[key] == pytest.approx(np.abs(logits[compared] - eager[compared]).max(), abs=6e-7)
    assert max(report["onnx_max_abs_diff"], report["pt2_max_abs_diff"]) <= 1e-4
    assert report["onnx_speedup"] == pytest.approx(
        report["eager_latency_ms"] / report["onnx_latency_ms"], rel=1e-3
    )
    onnx_labels = onnx_logits.argmax(axis=1)
    program_labels = program_logits.argmax(axis=1)
    with open(inside / "reports/models/lenet5/predictions.csv") as handle:
        recorded = [int(row["predicted"]) for row in csv.DictReader(handle)]
    assert onnx_labels.tolist() == recorded
    assert program_labels.tolist() == recorded


def test_export_beyond_tolerance_fails_and_writes_nothing(inside: Path, tmp_path: Path):
    params = load_params()
    strict = params.model_copy(update={"export": params.export.model_copy(update={"max_abs_diff": 1e-12})})
    for name in ("models/lenet5/model.onnx", "reports/models/lenet5/export.json"):
        (inside / name).rename(tmp_path / Path(name).name)
    try:
        with pytest.raises(ExportError, match=r"export@lenet5: exported outputs differ from eager by"):
            export.run(strict, "lenet5")
        assert not (inside / "models/lenet5/model.onnx").exists()
        assert not (inside / "reports/models/lenet5/export.json").exists()
    finally:
        (tmp_path / "model.onnx").rename(inside / "models/lenet5/model.onnx")
        (tmp_path / "export.json").rename(inside / "reports/models/lenet5/export.json")


def test_parity_examples_sets_how_many_test_images_export_compares(trained, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    monkeypatch.chdir(copy)
    raw = yaml.safe_load(Path("params.yaml").read_text())
    raw["export"]["parity_examples"] = 50
    Path("params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    export.run(load_params(), "lenet5")

    report = json.loads(Path("reports/models/lenet5/export.json").read_text())
    x, _, _ = split_inputs("classify", "test")
    assert len(x) == 360 and report["test_examples"] == 50
    eager = predict_outputs(load_model(Path("models/lenet5/model.pt"))[0], x[:50])
    session = onnxruntime.InferenceSession("models/lenet5/model.onnx")
    onnx_logits = session.run(None, {"images": x[:50].numpy()})[0]
    assert report["onnx_max_abs_diff"] == pytest.approx(np.abs(onnx_logits - eager).max(), abs=6e-7)


# Each architecture at a tiny width (fast to export, the same layers as the shipped one).
TINY_OPTIONS = {
    "mlp_shallow": {"hidden": 8},
    "mlp_deep": {"hidden": [8, 8]},
    "alexnet": {"width": 0.125},
    "vgg16": {"width": 0.125},
    "vgg16_bn": {"width": 0.125},
    "resnet20": {"width": 0.25},
    "resnet56": {"width": 0.25},
    "resnet18": {"width": 0.125},
    "nin": {"width": 0.125},
}


# The deepest graphs take the exporter 10-20 s each on two cores: out of `make test-fast`.
SLOW_TO_EXPORT = {"inception", "resnet56"}


@pytest.mark.parametrize(
    "arch",
    [
        pytest.param(a, marks=pytest.mark.slow) if a in SLOW_TO_EXPORT else a
        for a in sorted(ARCHITECTURES.keys() - DETECTORS - VIDEO)
    ],
)
def test_every_architecture_exports_to_onnx_and_pt2_matching_eager(arch: str, tmp_path: Path):
    torch.manual_seed(0)
    model = build_model(arch, 1, 10, 32, TINY_OPTIONS.get(arch, {})).train()
    with torch.no_grad():  # batch-norm statistics that are not the identity
        for _ in range(3):
            model(torch.randn(8, 1, 32, 32) * 2 + 0.5)
    model.eval()
    x = torch.randn(5, 1, 32, 32)
    program = formats.export_program(model, x[:2])  # as export@NAME: traced at batch 2
    formats.save_program(program, tmp_path / "model.pt2")
    formats.export_onnx(program, x[:2], tmp_path / "model.onnx", "logits")
    with torch.inference_mode():
        eager = model(x).numpy()
        program_out = torch.export.load(str(tmp_path / "model.pt2")).module()(x).numpy()
    onnx_out = formats.onnx_session(tmp_path / "model.onnx").run(None, {"images": x.numpy()})[0]
    assert onnx_out.shape == program_out.shape == (5, 10)  # any batch size, not only the traced one
    assert np.abs(onnx_out - eager).max() <= 1e-4
    assert np.abs(program_out - eager).max() <= 1e-4
