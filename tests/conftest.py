"""Shared fixtures: every test runs on the CPU, offline, in a throw-away project folder
with tiny settings (two epochs, one augmented copy), never touching the repository."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# pytest-xdist's workers share the cores: with torch's default of a thread per core in each,
# they oversubscribe them and OpenMP's threads wait on each other (test_models' overfit tests
# ran 2.7x slower on 2 cores). Each worker, and every process it starts, gets its share.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // _WORKERS))

TINY = {
    "augment": {"copies": 1},
    "models": {"lenet5": {}},
    "localize": {
        "data": {"images": 120, "image_size": 24},
        "models": {"lenet5_box": {"arch": "lenet5", "train": {"epochs": 1}}},
    },
    "landmarks": {
        "data": {"images": 120, "image_size": 24},
        "models": {"corners": {"arch": "lenet5", "train": {"epochs": 1}}},
    },
    "detect": {
        "data": {"images": 60, "image_size": 48, "max_objects": 3},
        "augment": {"copies": 1},  # the boxes' path through augmentation, tested
        "models": {"yolo": {"options": {"width": 8}, "train": {"epochs": 1}}},
    },
    "verify": {
        "data": {"photos": 8, "unseen_photos": 4, "image_size": 24},
        "models": {
            "siamese": {
                "arch": "convnet",
                "options": {"widths": [8, 16], "hidden": 32},
                "train": {"epochs": 1},
            }
        },
    },
    "clips": {
        "data": {"clips": 80, "frames": 4, "image_size": 16, "speed": 1},
        "models": {"c3d": {"options": {"widths": [4, 8], "hidden": 16}, "train": {"epochs": 1}}},
    },
    "style": {"image_size": 32, "steps": 2, "gallery": {"contents": ["coffee"], "styles": ["grass"]}},
    "train": {"epochs": 2, "steps": None, "accelerator": "cpu", "devices": 1},
    "transfer": {"pretrain_epochs": 1, "finetune_epochs": 2},
    "export": {"latency_runs": 5},
    "leaderboard": {"ensemble": []},
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Nested update; ``models`` is replaced whole, so a test lists exactly the models it trains."""
    merged = dict(base)
    for key, value in override.items():
        if key != "models" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_params(root: Path, overrides: dict[str, Any] | None = None) -> None:
    """``root/params.yaml``: the repository's, with TINY and then ``overrides`` merged in."""
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())
    params = merge(merge(defaults, TINY), overrides or {})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def shipped(section: str, **overrides: Any) -> Any:
    """A section of the repository's params.yaml with ``overrides`` merged in (nested), validated:
    params.yaml is the one place values are written, so a test starts from it too."""
    from dlpipe.config import Params, with_train_overrides

    raw = yaml.safe_load((REPO / "params.yaml").read_text())[section]
    merged = with_train_overrides(raw, overrides) if section == "train" else merge(raw, overrides)
    return Params.model_fields[section].annotation.model_validate(merged)


def cpu_env() -> dict[str, str]:
    """The environment for child processes: CPU only, venv first on PATH, no tracking server."""
    env = dict(os.environ)
    env["CUDA_VISIBLE_DEVICES"] = ""
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_stages(root: Path, overrides: dict[str, Any] | None = None, *, export: bool = False) -> None:
    """In ``root``, with TINY and ``overrides`` as params: split and augment the classification
    data, train and evaluate each of its models (and export them), then the leaderboard if
    they were exported. In process, the stages' own ``run``."""
    from dlpipe.config import load_params
    from dlpipe.stages import augment, evaluate, leaderboard, split, train
    from dlpipe.stages import export as export_stage

    write_params(root, overrides)
    with contextlib.chdir(root):
        params = load_params()
        split.run(params)
        augment.run(params)
        for name in params.models:
            train.run(params, name)
            evaluate.run(params, name)
            if export:
                export_stage.run(params, name)
        if export:
            leaderboard.run(params)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dvc_env(root: Path) -> dict[str, str]:
    """The environment of commands in a DVC project copy made by ``dvc_project``."""
    env = cpu_env() | {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        # Stages import the copy's own code, the code its dvc.lock hashes ...
        "PYTHONPATH": str(root / "src"),
    }
    # ... and write bytecode beside it, as Python does by default.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def dvc_project(root: Path, overrides: dict[str, Any] | None = None) -> None:
    """``root``: a git repository holding the project's pipeline, code and tiny params
    (TINY, then ``overrides``), committed, for the real ``dvc repro``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    write_params(root, overrides)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "tiny"]):
        subprocess.run(["git", *command], cwd=root, env=dvc_env(root), check=True, capture_output=True)


@pytest.fixture(autouse=True)
def _cpu_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Make ``tmp_path`` the working folder with a params.yaml of tiny settings.

    Call it with nested overrides, e.g. ``project({"train": {"epochs": 1}})``.
    """
    monkeypatch.chdir(tmp_path)

    def write(overrides: dict[str, Any] | None = None) -> Path:
        write_params(tmp_path, overrides)
        return tmp_path

    return write


def run_cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m dlpipe ARGS`` in ``cwd``, as DVC would run it."""
    return subprocess.run(
        [sys.executable, "-m", "dlpipe", *args],
        cwd=cwd,
        env=cpu_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def coco_truth(targets: Any) -> list[dict[str, Any]]:
    """Detection targets (N×K×5 rows class, cx, cy, w, h; class −1 pads) as torchmetrics'
    MeanAveragePrecision takes the truth: per image, corner boxes and labels."""
    import torch

    truth = []
    for objects in torch.as_tensor(targets):
        real = objects[objects[:, 0] >= 0]
        cx, cy, w, h = real[:, 1:].T
        truth.append(
            {
                "boxes": torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1),
                "labels": real[:, 0].long(),
            }
        )
    return truth
