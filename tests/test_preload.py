"""The preload server: a stage run by a forked worker behaves as the stage run on its own.

One preload session (``python -m dlpipe.preload bash session.sh``) runs several
clients in a tiny project; each test reads what one of them left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import cpu_env, run_cli, write_params

SESSION = r"""
set -u
run() { name=$1; shift; "$@" > "$name.out" 2> "$name.err"; echo $? > "$name.rc"; }
run split python -m dlpipe split
run augment python -m dlpipe augment
run unknown python -m dlpipe train nope
mkdir -p elsewhere && (cd elsewhere && run ../elsewhere python -m dlpipe split)
run logreg env MLFLOW_TRACKING_URI=sqlite:///other.db python -m dlpipe train logreg

# a long stage whose client is stopped: first politely (SIGTERM), then hard (SIGKILL; the
# second run resumes from the first one's checkpoint)
for how in TERM KILL; do
  env MLFLOW_TRACKING_URI=sqlite:///slow.db python -m dlpipe train slow > "slow_$how.out" 2>&1 & client=$!
  for _ in $(seq 1200); do grep -q "^epoch " "slow_$how.out" && break; sleep 0.1; done
  kill -$how $client; wait $client; echo $? > "slow_$how.rc"
done
"""

MODELS = {"logreg": {}, "slow": {"arch": "lenet5", "train": {"epochs": 500}}}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("preload")
    write_params(root, {"models": MODELS})
    (root / "session.sh").write_text(SESSION)
    server = subprocess.run(
        [sys.executable, "-m", "dlpipe.preload", "bash", "session.sh"],
        cwd=root,
        env=cpu_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    return root, server


def _client(root: Path, name: str) -> tuple[int, str, str]:
    return (
        int((root / f"{name}.rc").read_text()),
        (root / f"{name}.out").read_text(),
        (root / f"{name}.err").read_text(),
    )


def _processes_in(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_every_client_was_served_by_a_preloaded_worker(session) -> None:
    root, server = session
    assert server.returncode == 0, server.stderr
    assert server.stderr.strip().splitlines()[-1] == "dlpipe.preload: 7 stage(s) ran in preloaded workers"


def test_a_stage_gets_its_outputs_stdout_and_exit_status(session) -> None:
    root, _ = session
    status, out, _ = _client(root, "split")
    assert status == 0
    assert out.startswith("split classify: ")
    assert sorted(p.name for p in (root / "data/classify/split").glob("*.npz")) == [
        "test.npz",
        "train.npz",
        "val.npz",
    ]


def test_an_error_reaches_the_client_as_one_line_and_exit_2(session) -> None:
    root, _ = session
    status, out, err = _client(root, "unknown")
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        "params.yaml: no family's models lists 'nope' "
        "(listed: logreg, slow, lenet5_box, corners, yolo, siamese, c3d)"
    ]


def test_the_worker_runs_in_the_clients_folder(session) -> None:
    root, _ = session
    status, _, err = _client(root, "elsewhere")
    assert status == 2
    assert err.splitlines() == ["params.yaml: file not found"]
    assert not (root / "elsewhere/data").exists()


def test_the_worker_has_the_clients_environment(session) -> None:
    root, _ = session
    status, out, _ = _client(root, "logreg")
    assert status == 0, out
    assert (root / "other.db").exists()  # MLFLOW_TRACKING_URI, set for this client only
    assert not (root / "mlflow.db").exists()


def test_a_worker_trains_the_same_model_as_a_stage_on_its_own(session, tmp_path: Path) -> None:
    root, _ = session
    alone = tmp_path / "alone"
    shutil.copytree(root, alone, ignore=shutil.ignore_patterns("models", "*.db", "mlartifacts"))
    result = run_cli("train", "logreg", cwd=alone)
    assert result.returncode == 0, result.stderr
    preloaded = torch.load(root / "models/logreg/model.pt", weights_only=True)["state_dict"]
    own = torch.load(alone / "models/logreg/model.pt", weights_only=True)["state_dict"]
    assert preloaded.keys() == own.keys()
    for key in own:
        assert torch.equal(preloaded[key], own[key]), key


@pytest.mark.parametrize(("how", "status"), [("TERM", 128 + 15), ("KILL", 128 + 9)])
def test_a_stopped_client_stops_its_worker(session, how: str, status: int) -> None:
    root, _ = session
    out = (root / f"slow_{how}.out").read_text()
    assert int((root / f"slow_{how}.rc").read_text()) == status, out
    assert "/500 train_loss=" in out
    assert not (root / "models/slow/model.pt").exists()
    deadline = time.monotonic() + 10
    while _processes_in(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_in(root) == []


def test_sigterm_stops_training_with_status_143_and_a_resumable_checkpoint(session) -> None:
    root, _ = session
    out = (root / "slow_TERM.out").read_text()
    assert "stopped by SIGTERM" in out
    assert "train@slow: resuming from the checkpoint after epoch" in (root / "slow_KILL.out").read_text()


def test_without_an_answering_server_the_stage_runs_in_its_own_process(tmp_path: Path) -> None:
    env = {**cpu_env(), "DLPIPE_PRELOAD": str(tmp_path / "no-such-socket")}
    result = subprocess.run(
        [sys.executable, "-m", "dlpipe", "split"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 2
    assert lines[0].startswith(f"dlpipe: preload server {tmp_path / 'no-such-socket'} does not answer")
    assert lines[1:] == ["params.yaml: file not found"]


def test_a_command_that_cannot_start_is_one_line_and_exit_127(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dlpipe.preload", "--", "no-such-command-xyz"],
        cwd=tmp_path,
        env=cpu_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 127
    assert result.stderr.splitlines() == [
        "dlpipe.preload: cannot run 'no-such-command-xyz': No such file or directory"
    ]


def test_a_waiting_stage_is_served_before_the_next_library_is_imported(tmp_path: Path, monkeypatch) -> None:
    import socket

    from dlpipe import preload

    order: list[str] = []
    monkeypatch.setattr(preload._Workers, "start", lambda _self, _conn, _listener: order.append("served"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / "socket"))
        listener.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stage:
            stage.connect(str(tmp_path / "socket"))  # waiting before the server looks
            command = subprocess.Popen(["sleep", "1"])
            pending = [lambda: order.append("torch"), lambda: order.append("mlflow")]
            preload._serve(listener, command, pending)
    assert order == ["served", "torch", "mlflow"]
    assert pending == []
    assert "torchvision" in preload.SERVED_AFTER and "mlflow" not in preload.SERVED_AFTER


def test_a_library_that_fails_to_import_between_requests_is_one_line_and_the_server_goes_on(capsys) -> None:
    from dlpipe import preload

    preload._import_later("dlpipe_no_such_library")
    assert capsys.readouterr().err.startswith(
        "dlpipe.preload: importing dlpipe_no_such_library failed (No module named 'dlpipe_no_such_library')"
    )


LISTED_ONCE = r"""
import importlib, io, torch
from torch.onnx._internal._lazy_import import onnxscript_apis
from torch.onnx._internal.exporter._registration import ONNXRegistry
from dlpipe import preload

model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()

def graph():
    program = torch.export.export(model, (torch.ones(2, 4),))
    onnx_program = torch.onnx.export(program, (torch.ones(2, 4),), dynamo=True, verbose=False)
    return onnx_program.model_proto.SerializeToString()

before = graph(), sorted(map(str, ONNXRegistry.from_torchlib().functions))
preload._list_torchlib_functions()
after = graph(), sorted(map(str, ONNXRegistry.from_torchlib().functions))
calls = importlib.import_module(onnxscript_apis._name).get_torchlib_ops.cache_info()
print(calls.misses, calls.hits, before == after, len(after[1]))
"""


def test_the_server_lists_torchlib_functions_once_and_exports_the_same_graph() -> None:
    done = subprocess.run([sys.executable, "-c", LISTED_ONCE], capture_output=True, text=True, check=True)
    misses, hits, same, functions = done.stdout.split()
    assert (misses, hits, same) == ("1", "2", "True")  # listed by the server; both exports reuse it
    assert int(functions) > 400
