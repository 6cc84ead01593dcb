"""Files and names that could reach outside the project or run code: a model name that leaves
its folder is refused before anything is written, and a checkpoint carrying a pickled payload is
refused at every place dlpipe loads one, without running it."""

from __future__ import annotations

import os

import pytest
import torch

from conftest import run_cli, write_params
from dlpipe import paths
from dlpipe.config import load_params
from dlpipe.data.datamodule import ArrayDataModule
from dlpipe.stages import augment, split, train


@pytest.mark.parametrize("name", ["../x", "/abs", "a/../../b"])
@pytest.mark.parametrize("section", ["models", "localize"])
def test_a_model_name_that_leaves_its_folder_is_refused_before_anything_is_written(project, name, section):
    models = {"models": {name: {"arch": "lenet5"}}}
    root = project(models if section == "models" else {"localize": models})
    before = sorted(root.parent.rglob("*"))
    result = run_cli("split", cwd=root)
    key = "models" if section == "models" else "localize.models"
    assert result.returncode == 2
    assert result.stderr == f"params.yaml: {key} has a model name {name!r} unfit for a folder name\n"
    assert sorted(root.parent.rglob("*")) == before


class _Payload:
    """Pickles as a call of os.system: loading it unsafely runs the command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture
def trained(project):
    root = project({"models": {"logreg": {"train": {"epochs": 1}}}})
    params = load_params()
    split.run(params)
    augment.run(params)
    train.run(params, "logreg")
    return root


def _plant(path, marker) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"spec": {}, "state_dict": _Payload(f"touch {marker}"), "epoch": 0}, path)


def test_the_payload_is_real(tmp_path):
    marker = tmp_path / "ran"
    _plant(tmp_path / "model.pt", marker)
    torch.load(tmp_path / "model.pt", weights_only=False)  # what a careless loader does
    assert marker.exists()


REFUSED = "models/logreg/model.pt: refused: it holds the object posix.system, not only weights\n"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["evaluate", "logreg"], REFUSED),
        (["export", "logreg"], REFUSED),
        (["train", "child"], REFUSED),  # models.child.train.init_from: logreg
    ],
)
def test_a_pickled_payload_is_refused_without_running(trained, tmp_path, command, expected):
    marker = tmp_path / "ran"
    _plant(trained / "models/logreg/model.pt", marker)
    if command[0] == "train":
        write_params(
            trained, {"models": {"logreg": {}, "child": {"arch": "logreg", "train": {"init_from": "logreg"}}}}
        )
    result = run_cli(*command, cwd=trained)
    assert (result.returncode, result.stderr) == (2, expected)
    assert not marker.exists()


def test_a_resume_checkpoint_with_a_payload_is_not_resumed_from(trained, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    params = load_params()
    resume = paths.resume_dir("logreg")
    expected = train.fingerprint(params, "logreg", ArrayDataModule.inputs("classify"))
    resume.mkdir(parents=True)
    (resume / "state.json").write_text(f'{{"fingerprint": "{expected}", "run_id": "planted"}}')
    _plant(resume / "checkpoints" / "last.ckpt", marker)
    result = run_cli("train", "logreg", cwd=trained)
    assert result.returncode == 0, result.stderr
    assert "resuming" not in result.stdout  # started over
    assert not marker.exists()
