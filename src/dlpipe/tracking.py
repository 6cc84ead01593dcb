"""MLflow set-up: the one place that knows the tracking URI and artifact folder.

``MLFLOW_TRACKING_URI`` overrides ``tracking.uri`` (for a shared server); with
the default sqlite backend, artifacts go to ``tracking.artifact_dir`` rather
than a stray ``./mlruns``; with a server, where the server puts them (its
artifact proxy).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import subprocess
import warnings
from pathlib import Path
from typing import Any

from dlpipe import disk, paths
from dlpipe.config import TrackingParams
from dlpipe.errors import TrackingError

ENV_URI = "MLFLOW_TRACKING_URI"
SERVER_SCHEMES = ("http://", "https://")
# MLflow's own word for what an experiment holds (its UI sets it when a user picks the kind).
# The UI still opens on its GenAI overview unless the link asks for workflowType=machine_learning
# (the README's link; tests/test_browser.py).
EXPERIMENT_KIND, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"
DIGEST_LENGTH = 16  # of the split's sha256: MLflow's stores keep digests of up to 36 characters
# MLflow retries a failed request seven times with back-off (about four minutes); a stage waits
# this long for a server to answer its first request, and retries fewer times later on. The
# MLFLOW_HTTP_REQUEST_* variables, where set, win.
ANSWER_SECONDS = 5
RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


def tracking_uri(params: TrackingParams) -> str:
    """The URI in use; a relative sqlite path is made absolute, so it names one file wherever we are."""
    uri = os.environ.get(ENV_URI) or params.uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        uri = prefix + str(Path(uri.removeprefix(prefix)).resolve())
    return uri


def check_server(params: TrackingParams) -> None:
    """With a tracking server, ask its /health before a stage writes anything: one that refuses or
    does not answer within ANSWER_SECONDS is a one-line error, not minutes of MLflow's retries."""
    uri = tracking_uri(params)
    if not uri.startswith(SERVER_SCHEMES):
        return
    import requests

    for name, value in RETRIES.items():
        os.environ.setdefault(name, value)
    try:
        response = requests.get(f"{uri.rstrip('/')}/health", timeout=ANSWER_SECONDS)
    except requests.Timeout:
        raise TrackingError(f"tracking server {uri}: no answer within {ANSWER_SECONDS} s") from None
    except requests.RequestException as exc:
        # requests nests the socket's own words ("[Errno 111] Connection refused") in a long line
        cause = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
        reason = cause[1].strip() if cause else type(exc).__name__
        raise TrackingError(f"tracking server {uri}: {reason}") from None
    if response.status_code != 200:
        raise TrackingError(f"tracking server {uri}: /health answered HTTP {response.status_code}")


def client(params: TrackingParams):  # -> mlflow.MlflowClient, imported lazily
    """The client for this URI; MLflow's fluent API (start_run, log_model) is pointed at it too.

    ``mlflow.set_tracking_uri`` also exports MLFLOW_TRACKING_URI, which this module reads as
    the user's override: the variable is put back as it was, so a process that works on two
    projects (tests, notebooks) does not carry the first one's store into the second.
    """
    import mlflow

    uri = tracking_uri(params)
    before = os.environ.get(ENV_URI)
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop(ENV_URI, None)
    else:
        os.environ[ENV_URI] = before
    return _client_for(uri)


@functools.cache
def _client_for(uri: str):
    """One client per store: opening a sqlite store checks its schema, which takes a second."""
    import mlflow

    # Schema creation and migrations of a new sqlite store log at INFO.
    for name in ("mlflow.store.db.utils", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow.MlflowClient(uri)


def experiment_id(params: TrackingParams) -> str:
    """The experiment's id, creating it with its artifact folder on first use."""
    mlflow_client = client(params)
    experiment = mlflow_client.get_experiment_by_name(params.experiment)
    if experiment is not None:
        if experiment.tags.get(EXPERIMENT_KIND) != MODEL_DEVELOPMENT:
            mlflow_client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND, MODEL_DEVELOPMENT)
        return experiment.experiment_id
    # With a server, its artifact store (None: the server's default, its proxy)
    served = tracking_uri(params).startswith(SERVER_SCHEMES)
    location = None if served else Path(params.artifact_dir).resolve().as_uri()
    return mlflow_client.create_experiment(
        params.experiment, artifact_location=location, tags={EXPERIMENT_KIND: MODEL_DEVELOPMENT}
    )


def git_commit() -> str:
    """The commit the code ran at, or 'unknown' outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


def source_tags(command: str) -> dict[str, str]:
    """MLflow's own tags for where a run came from, which its UI shows: the command that
    reruns it and the commit."""
    return {
        "mlflow.source.name": command,
        "mlflow.source.type": "LOCAL",
        "mlflow.source.git.commit": git_commit(),
    }


def log_split(params: TrackingParams, run_id: str, family: str) -> None:
    """The family's split as the run's MLflow dataset input (the UI's Dataset column and filter):
    named by its source, with the split's content hash as digest and its training images' shape
    as the profile (the families' targets differ)."""
    from mlflow.data import from_numpy
    from mlflow.entities import DatasetInput, InputTag

    report = disk.read_json(paths.split_report(family))
    train = disk.load_arrays(paths.split_file(family, "train"))
    with warnings.catch_warnings():
        # MLflow registers its local-file source twice (paths and file: URIs) and says so
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple")
        dataset = from_numpy(
            train["x"],
            source=str(paths.split_file(family, "train").parent.resolve()),
            name=report["source"],
            digest=report["content_hash"][:DIGEST_LENGTH],
        )
    # Dataset._to_mlflow_entity is what mlflow.log_input calls; the client has no public twin.
    logged = DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "training")])
    client(params).log_inputs(run_id, [logged])


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'train': {'lr': 0.1}} -> {'train.lr': 0.1}: full names, never truncated."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def create_run(params: TrackingParams, run_name: str, tags: dict[str, str], logged: dict[str, Any]) -> str:
    """A new run with its tags and (flattened) params; returns its id."""
    from mlflow.entities import Param

    mlflow_client = client(params)
    run = mlflow_client.create_run(experiment_id(params), run_name=run_name, tags=tags)
    items = [Param(k, str(v)) for k, v in flatten(logged).items()]
    for start in range(0, len(items), 100):
        mlflow_client.log_batch(run.info.run_id, params=items[start : start + 100])
    return run.info.run_id


def run_record(arch: str) -> Path:
    """The file through which train hands its MLflow run to evaluate and export."""
    return paths.model_dir(arch) / "run.json"


def read_run_id(arch: str) -> str:
    return disk.read_json(run_record(arch))["run_id"]


def log_metrics(params: TrackingParams, run_id: str, metrics: dict[str, float]) -> None:
    """Many metrics in one round trip (one sqlite transaction instead of one each)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    entries = [Metric(key, float(value), now, 0) for key, value in metrics.items()]
    client(params).log_batch(run_id, metrics=entries)
