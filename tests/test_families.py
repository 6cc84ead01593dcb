"""The localisation, landmark and detection families through the same stages as classification:
a tiny pipeline of one model each (24- and 48-pixel images, one epoch), then what each stage
wrote."""

from __future__ import annotations

import contextlib
import csv
import json
import re
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime
import pytest
import torch
import yaml
from PIL import Image

import conftest
from conftest import REPO, TINY, coco_truth, merge, run_cli
from dlpipe import disk, tracking
from dlpipe.config import load_params
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.stages import augment, evaluate, export, leaderboard, split, train
from dlpipe.tasks.landmarks.points import distances
from dlpipe.tasks.localize.boxes import decode_box, iou

# The pipeline tests train one detector (TINY's); this module trains the other two too.
DETECTORS = {
    **TINY["detect"]["models"],
    "sliding_window": {
        "options": {"sides": [0.4], "window": 20, "width": 4, "hidden": 16},
        "train": {"epochs": 1},
    },
    "faster_rcnn": {
        "options": {
            "width": 4,
            "feature_channels": 8,
            "proposals": 10,
            "sampled_proposals": 16,
            "hidden": 16,
            "anchor_sides": [0.25, 0.5],
            "aspect_ratios": [1.0, 2.0],
        },
        "train": {"epochs": 1},
    },
}


def write_params(root: Path, overrides: dict | None = None) -> None:
    """conftest's, with the three detectors."""
    conftest.write_params(root, merge({"detect": {"models": DETECTORS}}, overrides or {}))


FAMILY_ENTRIES = {
    "localize": ["lenet5_box"],
    "landmarks": ["corners"],
    "detect": ["yolo", "sliding_window", "faster_rcnn"],
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("families")
    write_params(root)
    with contextlib.chdir(root):
        params = load_params()
        for family, names in FAMILY_ENTRIES.items():
            split.run(params, family)
            augment.run(params, family)
            for name in names:
                train.run(params, name)
                evaluate.run(params, name)
                export.run(params, name)
        leaderboard.run(params)
    return root


@pytest.fixture
def inside(pipeline: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(pipeline)
    return pipeline


def test_each_family_has_its_own_split_6_2_2(inside: Path):
    scenes = {
        name: disk.load_arrays(Path(f"data/localize/split/{name}.npz")) for name in ("train", "val", "test")
    }
    assert [len(scenes[name]["x"]) for name in ("train", "val", "test")] == [72, 24, 24]
    assert scenes["train"]["x"].shape[1:] == (24, 24, 3)
    assert set(scenes["train"]) == {"x", "present", "labels", "boxes", "classes"}
    # a background-only scene has no box; a scene with an object has one inside the image
    present = scenes["train"]["present"] == 1
    assert np.all(scenes["train"]["boxes"][~present] == 0)
    assert 0.6 < present.mean() < 0.95  # localize.data.empty_share is 0.2
    corners = disk.load_arrays(Path("data/landmarks/split/test.npz"))
    assert corners["points"].shape == (24, 4, 2)
    assert [str(n) for n in corners["point_names"]] == [
        "top_left",
        "top_right",
        "bottom_right",
        "bottom_left",
    ]
    report = json.loads(Path("reports/landmarks/split.json").read_text())
    assert report["names"] == ["top_left", "top_right", "bottom_right", "bottom_left"]
    assert report["examples"] == {"train": 72, "val": 24, "test": 24}


def test_history_logs_each_familys_metrics(inside: Path):
    with open("reports/models/lenet5_box/history.csv") as file:
        header = next(csv.reader(file))
    assert {"val_mean_iou", "val_class_acc", "val_object_acc", "val_iou50"} <= set(header)
    with open("reports/models/corners/history.csv") as file:
        header = next(csv.reader(file))
    assert {"val_nme", "val_pck"} <= set(header) and "val_acc" not in header
    summary = json.loads(Path("reports/models/corners/train.json").read_text())
    assert summary["monitor"] == "val_nme" and summary["family"] == "landmarks"


def test_localize_metrics_are_the_scores_of_the_saved_model(inside: Path):
    model, spec = load_model(Path("models/lenet5_box/model.pt"))
    assert spec["family"] == "localize" and spec["outputs"] == 15  # 5 + 10 classes
    x, targets, _ = split_inputs("localize", "test")
    outputs = torch.from_numpy(predict_outputs(model, x))
    targets = torch.from_numpy(targets)
    present = targets[:, 0] == 1
    metrics = json.loads(Path("reports/models/lenet5_box/metrics.json").read_text())
    expected_iou = iou(decode_box(outputs[present]), targets[present, 1:5]).mean()
    assert metrics["mean_iou"] == pytest.approx(float(expected_iou), abs=1e-6)
    said = outputs[:, 0] > 0
    assert metrics["object_accuracy"] == pytest.approx(float((said == present).float().mean()), abs=1e-6)
    classes = outputs[present, 5:].argmax(dim=1) == targets[present, 5].long()
    assert metrics["class_accuracy"] == pytest.approx(float(classes.float().mean()), abs=1e-6)
    assert metrics["objects"] == int(present.sum())


def test_landmark_metrics_are_the_scores_of_the_saved_model(inside: Path):
    model, _ = load_model(Path("models/corners/model.pt"))
    x, targets, _ = split_inputs("landmarks", "test")
    gaps = distances(torch.from_numpy(predict_outputs(model, x)), torch.from_numpy(targets))
    metrics = json.loads(Path("reports/models/corners/metrics.json").read_text())
    assert metrics["nme"] == pytest.approx(float(gaps.mean()), abs=1e-6)
    assert metrics["pck"] == pytest.approx(float((gaps <= 0.05).float().mean()), abs=1e-6)
    assert metrics["nme.top_left"] == pytest.approx(float(gaps[:, 0].mean()), abs=1e-6)


def test_pck_threshold_is_read_by_the_evaluate_stage(inside: Path):
    before = json.loads(Path("reports/models/corners/metrics.json").read_text())
    write_params(inside, {"landmarks": {"pck_threshold": 0.5}})
    try:
        evaluate.run(load_params(), "corners")
        after = json.loads(Path("reports/models/corners/metrics.json").read_text())
    finally:
        write_params(inside)
        evaluate.run(load_params(), "corners")
    assert after["nme"] == before["nme"]
    assert after["pck"] > before["pck"]  # a tenfold threshold admits more points


def test_a_detection_splits_first_images_keep_their_own_objects(inside: Path):
    from dlpipe import paths
    from dlpipe.data.tensors import load_split

    whole, _ = load_split("detect", paths.split_file("detect", "train"))
    first, _ = load_split("detect", paths.split_file("detect", "train"), limit=5)
    assert len(whole.x) > 5
    assert torch.equal(first.x, whole.x[:5])
    slots = first.y.shape[1]  # the most objects of the five
    assert torch.equal(first.y, whole.y[:5, :slots])
    assert (whole.y[:5, slots:, 0] == -1).all()  # the whole split's padding, nothing more


def test_diagnosis_train_examples_is_read_by_the_evaluate_stage(inside: Path):
    write_params(inside, {"evaluate": {"diagnosis_train_examples": 7}})
    try:
        evaluate.run(load_params(), "corners")
        sampled = json.loads(Path("reports/models/corners/diagnosis.json").read_text())
    finally:
        write_params(inside)
        evaluate.run(load_params(), "corners")
    whole = json.loads(Path("reports/models/corners/diagnosis.json").read_text())
    model, _ = load_model(Path("models/corners/model.pt"))
    x, targets, _ = split_inputs("landmarks", "train")
    gaps = distances(torch.from_numpy(predict_outputs(model, x)), torch.from_numpy(targets)).mean(dim=1)
    assert len(x) > 7
    assert sampled["errors"]["train"] == pytest.approx(float(gaps[:7].mean()), abs=1e-6)  # NME: the error
    assert whole["errors"]["train"] == pytest.approx(float(gaps.mean()), abs=1e-6)
    assert sampled["errors"]["dev"] == whole["errors"]["dev"]  # only the training error is sampled


def test_each_run_names_the_dvc_stage_that_reruns_it(inside: Path):
    params = load_params()
    client = tracking.client(params.tracking)
    for family, names in FAMILY_ENTRIES.items():
        name = names[0]
        run = client.get_run(tracking.read_run_id(name))
        assert run.data.tags["mlflow.source.name"] == f"dvc repro train_{family}@{name}"
        (logged,) = run.inputs.dataset_inputs
        split_report = disk.read_json(Path(f"reports/{family}/split.json"))
        assert (logged.dataset.name, logged.dataset.digest) == (
            split_report["source"],
            split_report["content_hash"][:16],
        )


def test_exports_name_the_familys_output_and_match_eager(inside: Path):
    for name, output, width in (("lenet5_box", "outputs", 15), ("corners", "points", 8)):
        session = onnxruntime.InferenceSession(
            f"models/{name}/model.onnx", providers=["CPUExecutionProvider"]
        )
        assert [o.name for o in session.get_outputs()] == [output]
        model, spec = load_model(Path(f"models/{name}/model.pt"))
        x, _, _ = split_inputs(spec["family"], "test")
        got = session.run(None, {"images": x.numpy()})[0]
        assert got.shape == (len(x), width)
        np.testing.assert_allclose(got, predict_outputs(model, x), atol=1e-4)


def test_leaderboard_has_a_table_and_a_champion_per_family(inside: Path):
    text = Path("reports/leaderboard.md").read_text()
    assert "## Classification with localisation (ranked by mean_iou)" in text
    assert "## Landmarks (ranked by nme)" in text
    with open("reports/leaderboard/landmarks.csv") as file:
        rows = list(csv.DictReader(file))
    metrics = json.loads(Path("reports/models/corners/metrics.json").read_text())
    assert rows[0]["model"] == "corners" and float(rows[0]["nme"]) == pytest.approx(metrics["nme"])
    champions = json.loads(Path("reports/champion.json").read_text())
    assert champions["localize"]["uri"] == "models:/dlpipe-lenet5_box@champion"
    assert champions["landmarks"]["uri"] == "models:/dlpipe-corners@champion"
    client = mlflow.MlflowClient(f"sqlite:///{inside / 'mlflow.db'}")
    assert int(client.get_model_version_by_alias("dlpipe-corners", "champion").version) == 1


def test_predict_shows_a_box_or_points(inside: Path):
    scene = disk.load_arrays(Path("data/localize/split/test.npz"))["x"][0]
    card = disk.load_arrays(Path("data/landmarks/split/test.npz"))["x"][0]
    Image.fromarray(scene).save(inside / "scene.png")
    Image.fromarray(card).save(inside / "card.png")
    result = run_cli("predict", "scene.png", "--family", "localize", cwd=inside)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("model: models:/dlpipe-lenet5_box@champion\nscene.png: ")
    assert "box centre" in result.stdout or "no object (p_c" in result.stdout
    result = run_cli("predict", "card.png", "--model", "corners", cwd=inside)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("card.png: top_left (")


def _nothing_written(root: Path) -> bool:
    return not (root / "data").exists() and not (root / "reports").exists()


def test_a_bad_yolo_label_is_one_line_naming_file_and_line(project):
    root = project({"localize": {"data": {"source": "yolo", "path": "shapes"}}})
    (root / "shapes/images").mkdir(parents=True)
    (root / "shapes/labels").mkdir()
    (root / "shapes/classes.txt").write_text("square\n")
    Image.new("RGB", (20, 20)).save(root / "shapes/images/a.png")
    (root / "shapes/labels/a.txt").write_text("0 0.5 0.5 0.2\n")
    result = run_cli("split", "localize", cwd=root)
    assert result.returncode == 2
    assert (
        result.stderr == "shapes/labels/a.txt:1: expected 5 numbers 'class cx cy w h' (got '0 0.5 0.5 0.2')\n"
    )
    assert _nothing_written(root)


def test_a_keypoint_csv_with_a_missing_column_is_one_line(project):
    root = project({"landmarks": {"data": {"source": "csv", "path": "points.csv"}}})
    Image.new("RGB", (20, 20)).save(root / "a.png")
    (root / "points.csv").write_text("image,x1,y1,x2\na.png,1,2,3\n")
    result = run_cli("split", "landmarks", cwd=root)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("points.csv: header needs")
    assert "y2" in result.stderr
    assert _nothing_written(root)


def test_a_classification_key_on_a_landmarks_entry_is_one_line(project):
    root = project({"landmarks": {"models": {"corners": {"arch": "lenet5", "train": {"mixup_alpha": 0.2}}}}})
    result = run_cli("split", "landmarks", cwd=root)
    assert result.returncode == 2
    assert result.stderr == (
        "params.yaml: landmarks.models.corners.train.mixup_alpha is a classification key; "
        "corners is a landmarks model\n"
    )
    assert _nothing_written(root)


def test_box_weight_is_read_by_the_train_stage(inside: Path):
    """localize.box_weight scales the box's squared error in the loss train minimises."""

    def first_train_loss() -> float:
        with open("reports/models/lenet5_box/history.csv") as file:
            return float(next(csv.DictReader(file))["train_loss"])

    shipped = first_train_loss()
    write_params(inside, {"localize": {"box_weight": 500.0}})
    try:
        train.run(load_params(), "lenet5_box")
        heavier = first_train_loss()
    finally:
        write_params(inside)
        train.run(load_params(), "lenet5_box")
    assert heavier > shipped  # same seed and data: only the box term's weight changed


def test_primary_metric_is_read_by_the_train_and_leaderboard_stages(inside: Path):
    """landmarks.primary_metric picks the checkpoint train keeps and the leaderboard's order."""
    write_params(inside, {"landmarks": {"primary_metric": "pck"}})
    try:
        params = load_params()
        train.run(params, "corners")
        summary = json.loads(Path("reports/models/corners/train.json").read_text())
        evaluate.run(params, "corners")
        export.run(params, "corners")
        leaderboard.run(params)
        board = Path("reports/leaderboard.md").read_text()
    finally:
        write_params(inside)
        params = load_params()
        for stage in (train, evaluate, export):
            stage.run(params, "corners")
        leaderboard.run(params)
    assert summary["monitor"] == "val_pck" and "best_val_pck" in summary
    assert "## Landmarks (ranked by pck)" in board


@pytest.mark.parametrize("arch", ["convnet", "resnet20", "nin"])
def test_a_landmarks_network_starts_with_every_point_at_the_centre(arch):
    """The head starts at the targets' middle, not at He-initialised outputs of order 1."""
    from conftest import shipped
    from dlpipe.tasks.landmarks.task import LandmarkTask

    names = ["1", "2", "3", "4"]
    task = LandmarkTask(arch, 3, 8, 32, names, {}, shipped("train").model_dump()).eval()
    with torch.no_grad():
        points = task(torch.randn(5, 3, 32, 32))
    assert torch.equal(points, torch.full((5, 8), 0.5))


@pytest.mark.parametrize(("family", "outputs"), [("localize", 5 + 10), ("landmarks", 2 * 4)])
def test_the_shipped_family_entry_trains_with_its_own_architecture_and_options(project, family, outputs):
    """The model params.yaml ships for the family (digit_box, corners) reaches the train stage: its
    architecture and options size the network train.json reports, and other widths size another."""
    from dlpipe.models.registry import build_model

    ((name, entry),) = yaml.safe_load((REPO / "params.yaml").read_text())[family]["models"].items()
    narrower = {**entry["options"], "widths": [8] * len(entry["options"]["widths"])}
    counts = []
    for options in (entry["options"], narrower):
        project({family: {"models": {name: {**entry, "options": options, "train": {"epochs": 1}}}}})
        params = load_params()
        split.run(params, family)
        augment.run(params, family)
        train.run(params, name)
        summary = json.loads(Path(f"reports/models/{name}/train.json").read_text())
        network = build_model(entry["arch"], 3, outputs, params.data_of(family).image_size, options)
        assert summary["architecture"] == entry["arch"]
        assert summary["parameters"] == sum(p.numel() for p in network.parameters())
        counts.append(summary["parameters"])
    assert counts[1] < counts[0]


def test_detection_splits_hold_each_scene_and_a_table_of_its_objects(inside: Path):
    splits = {
        name: disk.load_arrays(Path(f"data/detect/split/{name}.npz")) for name in ("train", "val", "test")
    }
    assert [len(splits[name]["x"]) for name in ("train", "val", "test")] == [36, 12, 12]
    for arrays in splits.values():
        assert set(arrays) == {"x", "image", "labels", "boxes", "classes"}
        per_scene = np.bincount(arrays["image"], minlength=len(arrays["x"]))
        assert per_scene.min() >= 1 and per_scene.max() <= 3  # detect.data.max_objects in TINY
        cx, cy, w, h = arrays["boxes"].T
        assert (cx - w / 2 >= 0).all() and (cx + w / 2 <= 1).all() and (cy + h / 2 <= 1).all()
    augmented = disk.load_arrays(Path("data/detect/augmented/train.npz"))
    assert len(augmented["x"]) == 72  # the originals, then one copy each
    originals = augmented["image"] < 36
    np.testing.assert_array_equal(augmented["boxes"][originals], splits["train"]["boxes"])
    copies = augmented["image"][~originals] - 36
    moved = [
        not (np.abs(splits["train"]["boxes"][splits["train"]["image"] == scene] - box) < 1e-6)
        .all(axis=1)
        .any()
        for scene, box in zip(copies, augmented["boxes"][~originals], strict=True)
    ]
    assert any(moved)  # detect.augment.crop shifted boxes with their pixels


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("yolo", (12, 3 * (5 + 10), 6, 6)),  # detect.anchors 3; 48 pixels / 2^3
        # one side, 0.4: scenes resized to 20 / 0.4 = 50 pixels, 8×8 windows of 20 at stride 4;
        # each window's box, then 10 digits and background
        ("sliding_window", (12, 64, 4 + 10 + 1)),
        # 10 proposals, each with a box and score for each of the 10 digits
        ("faster_rcnn", (12, 10 * 10, 6)),
    ],
)
def test_detection_metrics_are_coco_map_of_the_saved_model(inside: Path, name: str, shape: tuple[int, ...]):
    from torchmetrics.detection import MeanAveragePrecision

    from dlpipe.tasks.detect.detectors import detections

    model, spec = load_model(Path(f"models/{name}/model.pt"))
    assert spec["family"] == "detect"
    x, targets, names = split_inputs("detect", "test")
    outputs = torch.from_numpy(predict_outputs(model, x))
    assert outputs.shape == shape
    found = detections(name, outputs, 10, score_threshold=0.05, iou_threshold=0.5)
    coco = MeanAveragePrecision(iou_type="bbox", backend="pycocotools")
    coco.update([{"boxes": b, "scores": s, "labels": c} for b, s, c in found], coco_truth(targets))
    metrics = json.loads(Path(f"reports/models/{name}/metrics.json").read_text())
    # torchmetrics rounds COCO's IoU and recall thresholds to float32
    assert metrics["map50"] == pytest.approx(float(coco.compute()["map_50"]), abs=2e-5)
    assert metrics["objects"] == int((targets[..., 0] >= 0).sum())


def test_the_coco_backends_agree_on_the_pipelines_own_detections(inside: Path):
    from dlpipe.tasks.detect.coco import evaluation
    from dlpipe.tasks.detect.detectors import detections

    model, _ = load_model(Path("models/yolo/model.pt"))
    x, targets, names = split_inputs("detect", "test")
    found = detections("yolo", torch.from_numpy(predict_outputs(model, x)), 10, 0.0, 0.5)
    assert sum(len(boxes) for boxes, _, _ in found) > 10 * len(x)  # every anchor above 0: many boxes
    reference = evaluation(found, torch.from_numpy(targets), "pycocotools")
    fast = evaluation(found, torch.from_numpy(targets), "faster_coco_eval")
    for key in ("map", "map_50", "mar_100", "precision"):
        assert np.allclose(reference[key], fast[key], atol=1e-3), key


def test_evaluate_writes_per_class_ap_pr_curves_and_a_confusion_matrix_with_background(inside: Path):
    metrics = json.loads(Path("reports/models/yolo/metrics.json").read_text())
    assert set(metrics["ap50"]) <= {str(k) for k in range(10)}
    with open("reports/models/yolo/pr.csv") as file:
        rows = list(csv.DictReader(file))
    assert {row["class"] for row in rows} == set(metrics["ap50"])
    for label, ap in metrics["ap50"].items():
        curve = [float(row["precision"]) for row in rows if row["class"] == label]
        assert len(curve) == 101 and ap == pytest.approx(sum(curve) / 101, abs=1e-6)
    with open("reports/models/yolo/predictions.csv") as file:
        pairs = list(csv.DictReader(file))
    _, targets, _ = split_inputs("detect", "test")
    truths = [row for row in pairs if row["actual"] != "background"]
    assert len(truths) == int((targets[..., 0] >= 0).sum())  # each true box once: found or missed
    for plot in ("pr.png", "confusion.png", "boxes.png"):
        assert Path(f"reports/models/yolo/{plot}").stat().st_size > 1000


def test_tune_studies_a_detector_on_its_validation_map50(inside: Path):
    import optuna

    # the shipped space samples train.keep_prob, and no detector has dropout: refused at once
    refused = run_cli("tune", "yolo", "--trials", "1", cwd=inside)
    assert (refused.returncode, refused.stderr) == (
        2,
        "params.yaml: tune.space.train.keep_prob: yolo (yolo) has no dropout layer to tune; "
        "remove the key from tune.space\n",
    )
    assert not (inside / "optuna.db").exists()

    params = yaml.safe_load((inside / "params.yaml").read_text())
    params["tune"].update(  # replaces the shipped space whole
        epochs=1, pruner="none", space={"train.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}}
    )
    (inside / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        result = run_cli("tune", "sliding_window", "--trials", "2", cwd=inside)
    finally:
        write_params(inside)
    assert result.returncode == 0, result.stdout + result.stderr
    study = optuna.load_study(study_name="dlpipe-sliding_window", storage=f"sqlite:///{inside / 'optuna.db'}")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert len(trials) == 2
    client = mlflow.MlflowClient(f"sqlite:///{inside / 'mlflow.db'}")
    for trial in trials:  # each trial's value: its best validation mAP@0.5, logged to its run
        run = client.get_run(trial.user_attrs["mlflow_run_id"])
        assert trial.value == pytest.approx(run.data.metrics["best_val_map50"])
        assert 0.0 <= trial.value <= 1.0


def test_detect_thresholds_and_examples_are_read_by_the_evaluate_stage(inside: Path):
    def evaluated(detect: dict) -> tuple[dict, tuple[int, int]]:
        write_params(inside, {"detect": detect})
        evaluate.run(load_params(), "yolo")
        metrics = json.loads(Path("reports/models/yolo/metrics.json").read_text())
        return metrics, Image.open("reports/models/yolo/boxes.png").size

    try:
        everything, _ = evaluated({"score_threshold": 0.0, "iou_threshold": 0.99})
        suppressed, _ = evaluated({"score_threshold": 0.0, "iou_threshold": 0.05})
        nothing, _ = evaluated({"score_threshold": 0.99, "iou_threshold": 0.5})
        _, few = evaluated({"examples": 2})
        _, more = evaluated({"examples": 8})
    finally:
        write_params(inside)
        evaluate.run(load_params(), "yolo")
    # every anchor of 12 scenes (432 each) but the 100 best per image, then all but non-overlapping ones
    assert everything["detections"] == 12 * 100 > suppressed["detections"] > 0
    assert nothing["detections"] == 0 and nothing["mar100"] == 0.0 < everything["mar100"]
    assert few[0] * few[1] < more[0] * more[1]


@pytest.mark.parametrize(
    ("name", "fixed_batch"), [("yolo", False), ("sliding_window", False), ("faster_rcnn", True)]
)
def test_detectors_export_to_the_same_detections_after_decoding_and_nms(
    inside: Path, name: str, fixed_batch: bool
):
    report = json.loads(Path(f"reports/models/{name}/export.json").read_text())
    assert report["detections_unmatched"] == report["pt2_detections_unmatched"] == 0
    session = onnxruntime.InferenceSession(f"models/{name}/model.onnx", providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["raw"]
    # the two-stage detector takes one image at a time, and its MLflow signature says so; the
    # others, any batch
    assert (session.get_inputs()[0].shape[0] == 1) == fixed_batch
    from dlpipe import champion

    mlflow.set_tracking_uri(f"sqlite:///{inside / 'mlflow.db'}")
    logged = mlflow.models.get_model_info(f"models:/{champion.registered_name(load_params(), name)}/latest")
    assert logged.signature.inputs.inputs[0].shape[0] == (1 if fixed_batch else -1)
    from dlpipe.tasks.detect.parity import check

    model, _ = load_model(Path(f"models/{name}/model.pt"))
    x, _, _ = split_inputs("detect", "test")
    exported = np.concatenate([session.run(None, {"images": image[None].numpy()})[0] for image in x])
    counted = check(load_params(), name, 10, predict_outputs(model, x), [exported])
    assert counted == {"detections": report["detections"], "detections_unmatched": [0]}


def test_the_two_stage_detectors_options_reach_the_network_the_train_stage_saves(inside: Path):
    model, _ = load_model(Path("models/faster_rcnn/model.pt"))
    rcnn = model.rcnn
    assert rcnn.backbone[-2].out_channels == 8  # feature_channels
    assert rcnn.rpn.anchor_generator.sizes == ((12.0, 24.0),)  # anchor_sides × 48 pixels
    assert rcnn.rpn.anchor_generator.aspect_ratios == ((1.0, 2.0),)
    assert rcnn.rpn.head.cls_logits.out_channels == 2 * 2  # each side at each ratio
    assert rcnn.rpn._post_nms_top_n == {"training": 20, "testing": 10}  # proposals
    assert rcnn.roi_heads.fg_bg_sampler.batch_size_per_image == 16  # sampled_proposals
    assert rcnn.roi_heads.box_head.fc7.out_features == 16  # hidden


def test_the_two_stage_detector_reports_its_proposal_recall_and_validation_loss(inside: Path):
    from dlpipe.evaluation.outputs import BATCH_SIZE
    from dlpipe.tasks.detect.two_stage import PROPOSALS_SCORED, proposal_recall

    metrics = json.loads(Path("reports/models/faster_rcnn/metrics.json").read_text())
    model, _ = load_model(Path("models/faster_rcnn/model.pt"))
    x, targets, _ = split_inputs("detect", "test")
    rpn = model.eval().rcnn.rpn  # its PROPOSALS_SCORED best, asked of the proposal network alone
    rpn._post_nms_top_n = {**rpn._post_nms_top_n, "testing": PROPOSALS_SCORED}
    model.rcnn.backbone.layout = torch.channels_last  # as evaluate's batches run it
    found = []
    with torch.no_grad():
        for start in range(0, len(x), BATCH_SIZE):
            images, _ = model.rcnn.transform(list(x[start : start + BATCH_SIZE].unbind(0)))
            proposals, _ = rpn(images, {"0": model.rcnn.backbone(images.tensors)})
            found += [boxes / model.image_size for boxes in proposals]
    assert metrics["proposal_recall100"] == round(proposal_recall(found, torch.from_numpy(targets)), 6)
    assert 0.0 < metrics["proposal_recall100"] <= 1.0
    client = mlflow.MlflowClient(f"sqlite:///{inside / 'mlflow.db'}")
    run = client.get_run(tracking.read_run_id("faster_rcnn"))
    assert run.data.metrics["test_proposal_recall100"] == metrics["proposal_recall100"]
    assert run.data.metrics["val_loss"] > 0.0  # both stages' losses on the validation scenes


def test_the_anchors_k_means_chose_are_logged_to_the_training_run(inside: Path):
    import ast

    run = mlflow.MlflowClient(f"sqlite:///{inside / 'mlflow.db'}").get_run(tracking.read_run_id("yolo"))
    model, _ = load_model(Path("models/yolo/model.pt"))
    logged = torch.tensor(ast.literal_eval(run.data.params["anchors"]))
    assert torch.allclose(logged, model.anchor_sizes)


def test_detect_anchors_is_read_by_the_train_stage(inside: Path):
    """detect.anchors: how many anchor boxes each grid cell predicts, their sizes by k-means."""
    write_params(inside, {"detect": {"anchors": 2}})
    try:
        train.run(load_params(), "yolo")
        model, _ = load_model(Path("models/yolo/model.pt"))
    finally:
        write_params(inside)
        train.run(load_params(), "yolo")
    assert tuple(model.anchor_sizes.shape) == (2, 2)
    assert model.head.out_channels == 2 * (5 + 10)
    areas = model.anchor_sizes.prod(dim=1)
    assert areas[0] < areas[1]  # the smaller first, both fitted to the training boxes
    assert float(areas[0]) > 0.005 and float(areas[1]) < 0.25


def test_predict_shows_each_detection_with_its_class_score_and_corners(inside: Path):
    scene = disk.load_arrays(Path("data/detect/split/test.npz"))["x"][0]
    Image.fromarray(scene).save(inside / "crowd.png")
    Image.fromarray(np.repeat(np.repeat(scene, 2, axis=0), 3, axis=1)).save(inside / "wide.png")
    result = run_cli("predict", "crowd.png", "wide.png", "--model", "yolo", "--out", "drawn", cwd=inside)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "model: models:/dlpipe-yolo/latest"
    shown = lines[1].removeprefix("crowd.png: ")
    assert re.fullmatch(r"\d+ objects: .*|no object \(no detection scores 0\.3 or more\)", shown), shown
    assert lines[2] == "crowd.png: drawn in drawn/crowd_boxes.png"
    assert lines[4] == "wide.png: drawn in drawn/wide_boxes.png"
    # each drawn at its own size (the boxes are shares of the sides): the file's pixels where no box is
    drawn = np.asarray(Image.open(inside / "drawn/wide_boxes.png"))
    assert drawn.shape == (96, 144, 3)
    assert (drawn == np.asarray(Image.open(inside / "wide.png"))).mean() > 0.5


@pytest.mark.parametrize("key", ["box_weight", "no_object_weight"])
def test_detect_loss_weights_are_read_by_the_train_stage(inside: Path, key: str):
    """detect.box_weight and detect.no_object_weight scale their terms of the loss train minimises."""

    def first_train_loss() -> float:
        with open("reports/models/yolo/history.csv") as file:
            return float(next(csv.DictReader(file))["train_loss"])

    shipped = first_train_loss()
    write_params(inside, {"detect": {key: 50.0}})
    try:
        train.run(load_params(), "yolo")
        heavier = first_train_loss()
    finally:
        write_params(inside)
        train.run(load_params(), "yolo")
    assert heavier > 1.5 * shipped  # same seed and data: only that term's weight grew (to 50)
