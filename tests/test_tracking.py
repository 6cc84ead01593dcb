import os
from pathlib import Path

from conftest import shipped
from dlpipe.tracking import flatten, tracking_uri


def test_relative_sqlite_uri_is_anchored_where_the_stage_runs(project):
    root = project()
    assert tracking_uri(shipped("tracking")) == f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def test_environment_variable_overrides_params(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(shipped("tracking", uri="sqlite:///other.db")) == "http://127.0.0.1:5000"


def test_params_are_flattened_with_full_dotted_names():
    assert flatten({"train": {"lr": 0.1, "sched": {"kind": "step"}}, "empty": {}}) == {
        "train.lr": 0.1,
        "train.sched.kind": "step",
        "empty": {},
    }


def test_pointing_mlflow_at_a_project_does_not_leak_into_the_next(tmp_path, monkeypatch):
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; left there, it would override the
    # next project's tracking.uri in the same process.
    from dlpipe.tracking import client

    monkeypatch.chdir(tmp_path)
    client(shipped("tracking"))
    assert "MLFLOW_TRACKING_URI" not in os.environ
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert tracking_uri(shipped("tracking")) == f"sqlite:///{other.resolve() / 'mlflow.db'}"
