"""MLflow as a team shares it: ``mlflow server`` on PostgreSQL with its artifact proxy, on
127.0.0.1, records what the local sqlite store records; a server that refuses or does not
answer stops a stage in seconds with one line, before it writes anything."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import cpu_env, free_port, run_stages, write_params
from dlpipe.config import load_params
from dlpipe.stages import lab_report
from dlpipe.tracking import ANSWER_SECONDS
from postgres import postgres_server, unavailable_reason

OVERRIDES = {"models": {"logreg": {"train": {"epochs": 1}}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """(URL, artifact folder) of an MLflow server on a throw-away PostgreSQL."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    with postgres_server() as database, open(folder / "server.log", "w") as log:
        command = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            *("--backend-store-uri", database),
            *("--artifacts-destination", (folder / "artifacts").as_uri()),
            "--serve-artifacts",
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=cpu_env())
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start:\n{(folder / 'server.log').read_text()}")
                time.sleep(0.5)
            yield url, folder / "artifacts"
        finally:
            process.terminate()
            process.wait(timeout=30)


def _artifacts(client, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for entry in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


def _recorded(uri: str) -> dict:
    """What a pipeline left in a store: names of params, metrics and artifacts, the registered
    model and its alias."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("dlpipe").experiment_id
    (run,) = client.search_runs([experiment])
    registered = client.get_registered_model("dlpipe-logreg")
    versions = client.search_model_versions("name='dlpipe-logreg'")
    return {
        "params": set(run.data.params),
        "metrics": set(run.data.metrics),
        "artifacts": _artifacts(client, run.info.run_id),
        "logged_models": [model.name for model in client.search_logged_models([experiment])],
        # the REST store gives an alias' version as text, sqlite as a number
        "aliases": {alias: str(version) for alias, version in registered.aliases.items()},
        "versions": [version.run_id == run.info.run_id for version in versions],
    }


@pytest.mark.slow  # a PostgreSQL and an MLflow server, two pipelines
def test_a_pipeline_records_on_a_server_what_it_records_in_sqlite(server, tmp_path, monkeypatch):
    url, artifact_store = server
    local, shared = tmp_path / "local", tmp_path / "shared"
    local.mkdir(), shared.mkdir()
    run_stages(local, OVERRIDES, export=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    run_stages(shared, OVERRIDES, export=True)

    on_server = _recorded(url)
    in_sqlite = _recorded(f"sqlite:///{local / 'mlflow.db'}")
    assert on_server == in_sqlite
    assert on_server["aliases"] == {"champion": "1"} and on_server["versions"] == [True]
    assert {"history.csv", "metrics.json", "export.json"} <= {Path(a).name for a in on_server["artifacts"]}
    assert on_server["logged_models"] == ["model"]  # the ONNX model, with its signature
    # The files went through the server's artifact proxy, none to the project's folder.
    assert any(artifact_store.rglob("history.csv"))
    assert not (shared / "mlflow.db").exists() and not (shared / "mlartifacts").exists()
    # the lab report links each model to its run where it is: the server, or `mlflow ui`'s address
    for root, ui in ((shared, url), (local, "http://127.0.0.1:5000")):
        if root == local:
            monkeypatch.delenv("MLFLOW_TRACKING_URI")  # tracking.uri: the local sqlite store
        with contextlib.chdir(root):
            lab_report.run(load_params())
        run_id = json.loads((root / "models/logreg/run.json").read_text())["run_id"]
        page = (root / "reports/index.html").read_text()
        assert re.search(rf'<a href="{re.escape(ui)}/#/experiments/\w+/runs/{run_id}">logreg</a>', page)


def _silent_server():
    """A socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener


@pytest.mark.parametrize("kind", ["refusing", "silent"])
def test_a_server_that_is_down_is_one_line_in_seconds_and_nothing_written(kind, tmp_path):
    write_params(tmp_path, OVERRIDES)
    with contextlib.closing(_silent_server()) as listener:
        port = listener.getsockname()[1] if kind == "silent" else free_port()
        env = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
        before = sorted(tmp_path.rglob("*"))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "dlpipe", "train", "logreg"],
            cwd=tmp_path,
            env={**cpu_env(), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        seconds = time.monotonic() - started
    reason = f"no answer within {ANSWER_SECONDS} s" if kind == "silent" else "Connection refused"
    assert result.returncode == 2
    assert result.stderr == f"tracking server http://127.0.0.1:{port}: {reason}\n"
    assert seconds < 10 + 5  # the limit, and a Python start-up on a busy machine
    assert sorted(tmp_path.rglob("*")) == before
