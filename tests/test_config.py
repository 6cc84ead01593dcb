import copy
from pathlib import Path

import pytest
import yaml

from conftest import REPO, merge, run_cli
from dlpipe.config import load_params
from dlpipe.errors import ConfigError


def _written(tmp_path: Path, overrides: dict) -> Path:
    """The shipped params.yaml with ``overrides`` merged in, written to tmp_path."""
    path = tmp_path / "params.yaml"
    shipped = merge(yaml.safe_load((REPO / "params.yaml").read_text()), {"leaderboard": {"ensemble": []}})
    path.write_text(yaml.safe_dump(merge(shipped, overrides)))
    return path


# Mappings whose keys the user chooses (entries, classes, search dimensions): not keys of the schema.
FREE_FORM = {"models", "class_weights", "cost_matrix", "space"}


def _key_paths(node: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for key, value in node.items():
        paths.append((*prefix, key))
        if isinstance(value, dict) and key not in FREE_FORM:
            paths += _key_paths(value, (*prefix, key))
    return paths


def test_params_yaml_is_the_one_place_a_value_is_written(tmp_path: Path):
    """The code holds no default: every key of the shipped file is required, so leaving one out is a
    one-line error naming it, never a silent second copy of the value."""
    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    load_params(REPO / "params.yaml")
    paths = _key_paths(shipped)
    assert ("train", "early_stopping", "patience") in paths and ("localize", "data", "images") in paths
    for path in paths:
        raw = copy.deepcopy(shipped)
        node = raw
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError) as error:
            load_params(tmp_path / "params.yaml")
        assert str(error.value) == f"{'.'.join(path)} is required", path


VAL_ACC = {"monitor": "val_acc"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"train": {"lr": -0.1}}, "train.lr must be > 0 (got -0.1)"),
        ({"train": {"epochs": "ten"}}, "train.epochs must be an integer (got 'ten')"),
        ({"train": {"epochs": 2.5}}, "train.epochs must be an integer (got 2.5)"),
        ({"train": {"lrr": 0.1}}, "train.lrr is not a known key"),
        ({"trian": {}}, "trian is not a known key"),
        ({"train": 5}, "train must be a mapping (got 5)"),
        (
            {"data": {"ratios": {"train": 0.7, "val": 0.2, "test": 0.2}}},
            "data.ratios must sum to 1 (got 1.1)",
        ),
        (
            {"data": {"ratios": {"train": 1.0, "val": 0.0, "test": 0.0}}},
            "data.ratios.train must be < 1 (got 1.0)",
        ),
        (
            {"data": {"source": "mnist"}},
            "data.source must be one of 'digits', 'faces' or 'imagefolder' (got 'mnist')",
        ),
        (
            {"data": {"source": "imagefolder"}},
            "data.path is required when source is imagefolder",
        ),
        ({"augment": {"crop": {"p": 1.5}}}, "augment.crop.p must be <= 1 (got 1.5)"),
        ({"models": {"lenet6": {}}}, "models.lenet6 names an unknown architecture 'lenet6'"),
        (
            {"models": {"small": {"arch": "vgg17"}}},
            "models.small names an unknown architecture 'vgg17'",
        ),
        ({"models": {}}, "models must have at least 1 item(s) (got {})"),
        (
            {"landmarks": {"models": {"corners": {"arch": "lenet5", "train": {"label_smoothing": 0.1}}}}},
            "landmarks.models.corners.train.label_smoothing is a classification key; "
            "corners is a landmarks model",
        ),
        (
            {"localize": {"models": {"lenet5": {"arch": "lenet5"}}}},
            "localize.models.lenet5 is also a model of models: names must be unique",
        ),
        (
            {
                "landmarks": {
                    "models": {
                        "corners": {"arch": "lenet5", "train": {"early_stopping": {"monitor": "val_acc"}}}
                    }
                }
            },
            "train.early_stopping.monitor 'val_acc' is not a metric of corners "
            "(a landmarks model: primary, val_loss, val_nme, val_pck)",
        ),
        (
            {"localize": {"data": {"source": "yolo"}}},
            "localize.data.path is required when source is yolo",
        ),
        (
            {"landmarks": {"augment": {"mirror_pairs": [[1, 2, 3]]}}},
            "landmarks.augment.mirror_pairs.0 must have at most 2 item(s)",
        ),
        ({"models": ["lenet5"]}, "models must be a mapping (got ['lenet5'])"),
        (
            {"models": {"lenet5": {"train": {"lr": 0}}}},
            "models.lenet5.train.lr must be > 0 (got 0)",
        ),
        (
            {"models": {"lenet5": {"train": {"lrr": 1}}}},
            "models.lenet5.train.lrr is not a known key",
        ),
        ({"models": {"lenet5": {"width": 1}}}, "models.lenet5.width is not a known key"),
        (
            {"train": {"epochs": 15, "steps": 500}},
            "train must set one of epochs and steps, and the other to null",
        ),
        (
            {"train": {"epochs": None, "steps": None}},
            "train must set one of epochs and steps, and the other to null",
        ),
        (
            {"models": {"lenet5": {"train": {"epochs": 3, "steps": 100}}}},
            "models.lenet5.train must set one of epochs and steps, and the other to null",
        ),
        ({"train": {"epochs": None, "steps": 0}}, "train.steps must be >= 1 (got 0)"),
        ({"train": {"num_nodes": 2}}, "train sets num_nodes 2 with strategy auto; use ddp"),
        ({"train": {"strategy": "fsdp"}}, "train.strategy must be one of 'auto' or 'ddp' (got 'fsdp')"),
        (
            {"evaluate": {"class_weights": {"3": -1}}},
            "evaluate.class_weights.3 must be >= 0 (got -1)",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, overrides: dict, message: str):
    with pytest.raises(ConfigError) as error:
        load_params(_written(tmp_path, overrides))
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_yaml_digit_class_names_are_accepted_as_text(tmp_path: Path):
    path = _written(tmp_path, {})
    path.write_text(path.read_text().replace("class_weights: {}", "class_weights: {3: 10}"))
    assert load_params(path).evaluate.class_weights == {"3": 10.0}


def test_broken_yaml_is_one_line(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("train: {lr: [\n")
    with pytest.raises(ConfigError, match=r"^not valid YAML at line \d+$"):
        load_params(path)


def test_cli_exits_2_with_one_line_and_writes_nothing(project):
    root = project({"train": {"lr": -0.1}})
    result = run_cli("split", cwd=root)
    assert result.returncode == 2
    assert result.stderr == "params.yaml: train.lr must be > 0 (got -0.1)\n"
    assert sorted(p.name for p in root.iterdir()) == ["params.yaml"]


def test_cli_rejects_an_architecture_not_in_models(project):
    root = project()
    result = run_cli("train", "alexnet", cwd=root)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "params.yaml: no family's models lists 'alexnet' "
        "(listed: lenet5, lenet5_box, corners, yolo, siamese, c3d)"
    )


def test_unknown_builder_option_is_named_before_anything_is_written(project):
    from dlpipe.stages import augment, split, train

    root = project({"models": {"lenet5": {"options": {"widht": 2}}}})
    split.run(load_params())
    augment.run(load_params())
    with pytest.raises(ConfigError, match=r"^models.lenet5.options.widht is not an option of lenet5"):
        train.run(load_params(), "lenet5")
    assert not (root / "models").exists() and not (root / "mlflow.db").exists()


def test_bad_builder_option_value_is_one_line(project):
    from dlpipe.stages import augment, split, train

    project({"models": {"mlp_shallow": {"options": {"activation": "swish"}}}})
    split.run(load_params())
    augment.run(load_params())
    with pytest.raises(ConfigError, match=r"^models.mlp_shallow.options: unknown activation 'swish'"):
        train.run(load_params(), "mlp_shallow")


def test_ensemble_must_name_classification_models(tmp_path: Path):
    path = _written(
        tmp_path, {"models": {"lenet5": {}, "logreg": {}}, "leaderboard": {"ensemble": ["lenet5", "vgg16"]}}
    )
    with pytest.raises(
        ConfigError,
        match=r"^leaderboard.ensemble names 'vgg16', which is not a classification model of "
        r"models$",
    ):
        load_params(path)


def test_incompatible_train_settings_are_one_line_errors(tmp_path: Path):
    path = _written(tmp_path, {"train": {"schedule": "onecycle", "warmup_epochs": 2}})
    with pytest.raises(ConfigError, match=r"^train sets a warm-up with schedule onecycle"):
        load_params(path)


def test_an_entry_overriding_one_early_stopping_key_keeps_the_sections_others(tmp_path: Path):
    path = _written(
        tmp_path,
        {
            "train": {"early_stopping": {"monitor": "val_loss", "patience": 3, "min_delta": 0.01}},
            "models": {"lenet5": {"train": {"early_stopping": {"monitor": "val_acc"}}}},
        },
    )
    stopping = load_params(path).train_for("lenet5").early_stopping
    assert (stopping.monitor, stopping.patience, stopping.min_delta) == ("val_acc", 3, 0.01)


def test_tune_models_must_name_classification_models(tmp_path: Path):
    # digit_box is a localize model: tune@NAME runs classification's study only.
    path = _written(tmp_path, {"tune": {"models": ["digit_box"]}})
    with pytest.raises(
        ConfigError, match=r"^tune.models names 'digit_box', which is not a classification model of models$"
    ):
        load_params(path)


@pytest.mark.parametrize(
    ("shared", "own", "expected"),
    [
        ({"epochs": 15, "steps": None}, {"steps": 300}, (None, 300)),
        ({"epochs": None, "steps": 500}, {"epochs": 4}, (4, None)),
        ({"epochs": None, "steps": 500}, {"lr": 0.01}, (None, 500)),
    ],
)
def test_a_models_length_replaces_the_sections_whether_in_epochs_or_steps(
    tmp_path: Path, shared, own, expected
):
    path = _written(tmp_path, {"train": shared, "models": {"lenet5": {"train": own}}})
    settings = load_params(path).train_for("lenet5")
    assert (settings.epochs, settings.steps) == expected
