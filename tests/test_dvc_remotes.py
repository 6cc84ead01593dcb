"""DVC remotes for a team's data and models: a folder and S3 (moto's server on 127.0.0.1).
A pushed pipeline comes back whole after its cache and outputs are wiped, and a fresh clone
that pulls the run cache reruns no stage."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import dvc_env, dvc_project, free_port

pytestmark = pytest.mark.slow

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dvc_env(cwd) | CREDENTIALS
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "dvc", *args, cwd=cwd)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, with one bucket."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket="dlpipe")
    yield endpoint
    server.stop()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Path:
    """A tiny project, run and committed, with a folder remote and an S3 remote."""
    root = tmp_path_factory.mktemp("remotes") / "project"
    dvc_project(root)
    _run(sys.executable, "-m", "dlpipe.preload", sys.executable, "-m", "dvc", "repro", cwd=root)
    _dvc("remote", "add", "folder", str(root.parent / "folder-remote"), cwd=root)
    _dvc("remote", "add", "s3", "s3://dlpipe/store", cwd=root)
    _dvc("remote", "modify", "s3", "endpointurl", s3_endpoint, cwd=root)
    _run("git", "add", "-A", cwd=root)
    _run("git", "commit", "-qm", "a run, and where its data goes", cwd=root)
    return root


def _cached_outputs(root: Path) -> list[Path]:
    """The outputs DVC caches (and pushes): not those declared ``cache: false``."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return sorted(Path(out.fs_path) for stage in repo.index.stages for out in stage.outs if out.use_cache)


def _outputs(root: Path) -> dict[str, str]:
    """md5 of every file of the cached outputs."""
    files = []
    for output in _cached_outputs(root):
        files += sorted(output.rglob("*")) if output.is_dir() else [output]
    return {str(f.relative_to(root)): hashlib.md5(f.read_bytes()).hexdigest() for f in files if f.is_file()}


@pytest.mark.parametrize("remote", ["folder", "s3"])
def test_pushed_outputs_come_back_whole_after_cache_and_outputs_are_wiped(pipeline: Path, remote):
    before = _outputs(pipeline)
    assert any(name.endswith("model.onnx") for name in before) and any(
        name.startswith("data/") for name in before
    )
    _dvc("push", "-r", remote, cwd=pipeline)
    shutil.rmtree(pipeline / ".dvc/cache")
    for output in _cached_outputs(pipeline):
        shutil.rmtree(output) if output.is_dir() else output.unlink()

    _dvc("pull", "-r", remote, cwd=pipeline)
    assert _outputs(pipeline) == before
    assert "Data and pipelines are up to date." in _dvc("status", cwd=pipeline).stdout
    cloud = _dvc("status", "--cloud", "-r", remote, cwd=pipeline).stdout
    assert f"Cache and remote '{remote}' are in sync" in cloud


def test_a_fresh_clone_that_pulls_the_run_cache_reruns_no_stage(pipeline: Path, tmp_path: Path):
    _dvc("push", "--run-cache", "-r", "folder", cwd=pipeline)
    clone = tmp_path / "clone"
    _run("git", "clone", "-q", str(pipeline), str(clone), cwd=tmp_path)
    _dvc("pull", "--run-cache", "-r", "folder", cwd=clone)
    repro = _dvc("repro", cwd=clone)
    assert "Running stage" not in repro.stdout
    assert _outputs(clone) == _outputs(pipeline)
