"""The verify family through its stages: the split by identity, the embedder's training with
its per-epoch monitors, the evaluation, the export, enroll/verify/identify, and its settings."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from conftest import run_cli, write_params
from dlpipe import disk
from dlpipe.config import load_params
from dlpipe.data.glyphs import identities
from dlpipe.evaluation.outputs import predict_outputs, split_inputs
from dlpipe.models.checkpoint import load_model
from dlpipe.stages import augment, evaluate, export, split, train
from dlpipe.tasks.verify import scores

pytestmark = pytest.mark.slow

DATA = {"photos": 20, "unseen_photos": 10}
# Long enough that a fresh photo of a person never trained on is told apart from four others
SIAMESE = {
    "arch": "convnet",
    "options": {"widths": [32, 64, 128], "hidden": 256},
    "train": {"epochs": 8, "batch_size": 64, "lr": 0.002, "weight_decay": 0.0},
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    write_params(
        root, {"verify": {"data": {"photos": 20, "unseen_photos": 10}, "models": {"siamese": SIAMESE}}}
    )
    with contextlib.chdir(root):
        params = load_params()
        split.run(params, "verify")
        augment.run(params, "verify")
        train.run(params, "siamese")
        evaluate.run(params, "siamese")
        export.run(params, "siamese")
    return root


@pytest.fixture
def inside(pipeline: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(pipeline)
    return pipeline


def test_no_val_or_test_identity_is_ever_trained_on(inside: Path):
    splits = {
        name: disk.load_arrays(Path(f"data/verify/split/{name}.npz")) for name in ("train", "val", "test")
    }
    names = {name: set(arrays["names"].tolist()) for name, arrays in splits.items()}
    assert not names["train"] & names["val"] and not names["train"] & names["test"]
    assert not names["val"] & names["test"]
    assert names["val"] | names["test"] == set(identities(["armenian", "georgian"])[0])
    assert not set("".join(names["train"])) & set("".join(names["test"]))  # not a character shared
    for arrays in splits.values():  # every photo's identity is one of its split's own names
        assert arrays["identities"].max() == len(arrays["names"]) - 1
    report = json.loads(Path("reports/verify/split.json").read_text())
    assert report["identities"] == {"train": 124, "val": 54, "test": 55}


def test_each_epoch_logs_the_collapse_monitor_and_the_one_shot_scores(inside: Path):
    history = Path("reports/models/siamese/history.csv").read_text().splitlines()
    header = history[0].split(",")
    for column in ("train_spread", "val_spread", "val_auc", "val_way5", "val_way20", "val_loss"):
        assert column in header, column
    assert len(history) == 1 + 8
    summary = json.loads(Path("reports/models/siamese/train.json").read_text())
    assert summary["monitor"] == "val_way20" and summary["family"] == "verify"


def test_metrics_are_the_scores_of_the_saved_embedder_with_the_val_threshold(inside: Path):
    model, spec = load_model(Path("models/siamese/model.pt"))
    assert spec["family"] == "verify" and spec["outputs"] == 128
    embedded = {}
    for name in ("val", "test"):
        x, owners, _ = split_inputs("verify", name)
        embedded[name] = (predict_outputs(model, x), owners)
    assert np.allclose(np.linalg.norm(embedded["test"][0], axis=1), 1.0, atol=1e-5)  # unit length
    threshold, _ = scores.best_threshold(*scores.pair_distances(*embedded["val"]))
    distances, same = scores.pair_distances(*embedded["test"])
    metrics = json.loads(Path("reports/models/siamese/metrics.json").read_text())
    assert metrics["threshold"] == pytest.approx(threshold, abs=1e-6)
    assert metrics["auc"] == pytest.approx(scores.roc(distances, same)["auc"], abs=1e-6)
    at_val = scores.balanced_accuracy(distances, same, threshold)
    assert metrics["acc_val_threshold"] == pytest.approx(at_val, abs=1e-6)
    assert metrics["threshold_gap"] == pytest.approx(metrics["acc_best_threshold"] - at_val, abs=1e-6)
    way20 = scores.one_shot_accuracy(embedded["test"][0], embedded["test"][1], 20, 1000, seed=42)
    assert metrics["way20"] == way20 and 0.5 < metrics["way5"] <= 1.0
    for plot in ("distances.png", "roc.png", "one_shot.png", "embedding_map.png"):
        assert Image.open(f"reports/models/siamese/{plot}").size[0] >= 400


def test_the_onnx_embedder_gives_the_same_unit_embeddings(inside: Path):
    session = onnxruntime.InferenceSession("models/siamese/model.onnx", providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["embedding"]
    model, _ = load_model(Path("models/siamese/model.pt"))
    x, _, _ = split_inputs("verify", "test")
    got = session.run(None, {"images": x[:64].numpy()})[0]
    np.testing.assert_allclose(got, predict_outputs(model, x[:64]), atol=1e-5)
    assert json.loads(Path("reports/models/siamese/export.json").read_text())["onnx_max_abs_diff"] < 1e-4


def _photos(root: Path, count: int) -> list[tuple[str, list[Path]]]:
    """The first ``count`` test identities, each photo a PNG: (name, files)."""
    arrays = disk.load_arrays(Path("data/verify/split/test.npz"))
    people = []
    for identity in range(count):
        files = []
        for k, index in enumerate(np.flatnonzero(arrays["identities"] == identity)):
            files.append(root / f"photo_{identity}_{k}.png")
            Image.fromarray(arrays["x"][index][..., 0]).save(files[-1])
        people.append((f"person{identity}", files))
    return people


def test_enroll_then_identify_finds_a_held_out_person_from_a_fresh_photo(inside: Path, tmp_path: Path):
    people = _photos(tmp_path, 5)
    for name, files in people:  # one photo each: one-shot
        (tmp_path / "gallery" / name).mkdir(parents=True)
        files[0].rename(tmp_path / "gallery" / name / "enrolled.png")
    result = run_cli("enroll", str(tmp_path / "gallery"), cwd=inside)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "enroll@siamese: 5 identities from 5 photos -> models/siamese/gallery.npz\n"
    stored = disk.load_arrays(Path("models/siamese/gallery.npz"))
    assert sorted(stored) == ["embeddings", "names"] and stored["embeddings"].shape == (5, 128)  # no photo
    right = 0
    for name, files in people:
        for fresh in files[1:5]:
            result = run_cli("identify", str(fresh), "--top", "2", cwd=inside)
            assert result.returncode == 0, result.stderr
            right += result.stdout.split(": ", 1)[1].startswith(f"{name} ")
    print(f"identified {right} of 20")
    assert right >= 14  # of 20 photos never enrolled nor trained on


def test_verify_says_yes_for_the_enrolled_photo_and_names_an_unknown_identity(inside: Path, tmp_path: Path):
    (name, files), *_ = _photos(tmp_path, 1)
    (tmp_path / "gallery" / name).mkdir(parents=True)
    files[0].rename(tmp_path / "gallery" / name / "a.png")
    assert run_cli("enroll", str(tmp_path / "gallery"), cwd=inside).returncode == 0
    same = run_cli("verify", str(tmp_path / "gallery" / name / "a.png"), name, cwd=inside)
    assert same.returncode == 0
    assert f"distance to {name} 0.0000, threshold " in same.stdout and same.stdout.endswith(": yes\n")
    unknown = run_cli("verify", str(files[1]), "nobody", cwd=inside)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == f"'nobody' is not enrolled in models/siamese/gallery.npz (enrolled: {name})\n"


def test_a_person_folder_with_one_photo_stops_the_split_and_writes_nothing(project, tmp_path: Path):
    root = project({"verify": {"data": {"source": "folders", "path": "people"}}})
    for person in range(10):
        folder = root / "people" / f"p{person}"
        folder.mkdir(parents=True)
        for k in range(1 if person == 3 else 2):
            Image.fromarray(np.full((20, 20), 40 * k, dtype=np.uint8)).save(folder / f"{k}.png")
    result = run_cli("split", "verify", cwd=root)
    assert result.returncode == 2
    assert (
        result.stderr == "people/p3: a person needs at least 2 photos, the folder holds one image (0.png)\n"
    )
    assert not (root / "data").exists() and not (root / "reports").exists()


def test_twenty_way_as_the_primary_metric_needs_twenty_validation_people(project):
    root = project({"verify": {"data": {"source": "folders", "path": "people"}}})
    rng = np.random.default_rng(0)
    for person in range(10):
        (root / "people" / f"p{person}").mkdir(parents=True)
        for k in range(2):
            pixels = rng.integers(0, 256, (20, 20), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "people" / f"p{person}" / f"{k}.png")
    for stage in (("split", "verify"), ("augment", "verify")):
        assert run_cli(*stage, cwd=root).returncode == 0
    result = run_cli("train", "siamese", cwd=root)
    assert result.returncode == 2
    assert result.stderr == (
        "params.yaml: verify.primary_metric way20 needs 20 validation identities, the val split has 2: "
        "choose auc\n"
    )
    assert not (root / "models").exists()


def test_the_verify_keys_are_read_by_the_train_and_evaluate_stages(project):
    """loss, margin, photos_per_identity and embedding through train; episodes and examples through
    evaluate."""
    short = {**SIAMESE, "train": {**SIAMESE["train"], "epochs": 1}}
    root = project({"verify": {"data": DATA, "models": {"siamese": short}}})
    split.run(load_params(), "verify")
    augment.run(load_params(), "verify")

    def trained(verify: dict) -> float:
        write_params(root, {"verify": {**verify, "data": DATA, "models": {"siamese": short}}})
        train.run(load_params(), "siamese")
        history = Path("reports/models/siamese/history.csv").read_text().splitlines()
        return float(dict(zip(history[0].split(","), history[1].split(","), strict=True))["train_loss"])

    triplet, wider, pair = trained({}), trained({"margin": 0.5}), trained({"loss": "pair"})
    assert wider > triplet  # the same batches, a wider margin: a larger hinge
    assert abs(pair - triplet) > 0.05  # cross-entropy of pairs, another scale
    assert trained({"photos_per_identity": 8}) != triplet  # 8 identities x 8 photos, not 16 x 4
    write_params(root, {"verify": {"photos_per_identity": 3, "data": DATA, "models": {"siamese": short}}})
    refused = run_cli("train", "siamese", cwd=root)
    assert (refused.returncode, refused.stderr) == (
        2,
        "params.yaml: verify.models.siamese: train.batch_size 64 must be a multiple of "
        "verify.photos_per_identity 3, at least two identities' worth\n",
    )
    trained({"embedding": 16})
    model, spec = load_model(Path("models/siamese/model.pt"))
    assert spec["outputs"] == 16
    x, _, _ = split_inputs("verify", "test")
    assert predict_outputs(model, x[:4]).shape == (4, 16)
    write_params(root, {"verify": {"episodes": 10, "data": DATA, "models": {"siamese": short}}})
    evaluate.run(load_params(), "siamese")
    metrics = json.loads(Path("reports/models/siamese/metrics.json").read_text())
    embeddings, owners = predict_outputs(model, x), split_inputs("verify", "test")[1]
    for ways in (5, 20):  # ten seeded episodes each
        assert metrics[f"way{ways}"] == scores.one_shot_accuracy(embeddings, owners, ways, 10, seed=42)
    heights = {}
    for examples in (2, 4):  # one_shot.png: a row per episode
        write_params(root, {"verify": {"examples": examples, "data": DATA, "models": {"siamese": short}}})
        evaluate.run(load_params(), "siamese")
        heights[examples] = Image.open("reports/models/siamese/one_shot.png").size[1]
    assert heights[4] > heights[2] * 1.5


def test_a_study_tunes_the_loss_and_the_margin_of_the_verify_task(inside: Path):
    import mlflow
    import optuna
    import yaml

    original = (inside / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["tune"].update(  # replaces the shipped space whole
        epochs=1,
        pruner="none",
        space={
            "verify.margin": {"type": "float", "low": 0.1, "high": 0.5},
            "verify.loss": {"type": "categorical", "choices": ["triplet", "pair"]},
        },
    )
    (inside / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        refused = run_cli("tune", "lenet5", "--trials", "1", cwd=inside)
        result = run_cli("tune", "siamese", "--trials", "2", cwd=inside)
    finally:
        (inside / "params.yaml").write_text(original)
    assert (refused.returncode, refused.stderr) == (
        2,
        "params.yaml: tune.space.verify.margin: lenet5 is a classify model, which does not read verify\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-S '++verify.margin=" in result.stdout  # the recommendation sets the family's key
    study = optuna.load_study(study_name="dlpipe-siamese", storage=f"sqlite:///{inside / 'optuna.db'}")
    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert len(trials) == 2
    client = mlflow.MlflowClient(f"sqlite:///{inside / 'mlflow.db'}")
    for trial in trials:  # the task each trial trained had the sampled loss and margin
        logged = client.get_run(trial.user_attrs["mlflow_run_id"]).data.params
        assert logged["loss"] == trial.params["verify.loss"]
        assert float(logged["margin"]) == pytest.approx(trial.params["verify.margin"])


def test_a_family_key_a_task_does_not_read_is_not_tunable(project):
    root = project({"tune": {"space": {"verify.data": {"type": "categorical", "choices": ["glyphs"]}}}})
    result = run_cli("split", "verify", cwd=root)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "params.yaml: tune.space has verify.data, which is not a tunable key of verify "
        "(tunable: loss, margin,"
    )
