"""The pipeline's runs and a study as a person sees them: Debian's Chromium, headless, opens the
MLflow UI over a pipeline's store and optuna-dashboard over a study, both served on 127.0.0.1,
and the page it renders shows the runs (with their dataset) and the study. Screenshots are kept
beside each test's temporary folder. Skipped, saying why, where Chromium is missing (`.ci/run`
installs it as it installs PostgreSQL)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import requests

from conftest import cpu_env, free_port, run_stages

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)", allow_module_level=True)


@contextlib.contextmanager
def _serving(command: list[str], url: str, log: Path) -> Iterator[None]:
    """Run a web server until ``url`` answers; stop it afterwards."""
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=cpu_env())
        try:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(url, timeout=2).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command[0]} did not start:\n{log.read_text()}")
                time.sleep(0.5)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def _render(url: str, screenshot: Path) -> str:
    """The DOM Chromium renders at ``url`` once its scripts have run; a screenshot beside it."""
    flags = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",  # as root in a container
        "--disable-gpu",
        "--no-first-run",
        "--virtual-time-budget=20000",  # let the single-page app fetch and draw
        "--window-size=1400,900",
    ]
    subprocess.run([*flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=120)
    page = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    return page.stdout


def test_the_mlflow_ui_shows_the_pipelines_runs_and_their_dataset(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    run_stages(root, {"models": {"logreg": {"train": {"epochs": 1}}, "lenet5": {"train": {"epochs": 1}}}})
    port = free_port()
    server = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    base = f"http://127.0.0.1:{port}"
    with _serving(server, f"{base}/health", tmp_path / "mlflow.log"):
        # the README's link: the experiment's training runs, not MLflow 3's GenAI overview
        page = _render(f"{base}/#/experiments/1?workflowType=machine_learning", tmp_path / "mlflow.png")
    assert (tmp_path / "mlflow.png").stat().st_size > 10_000
    for shown in ("logreg", "lenet5", "digits"):  # both runs, and the split as their dataset
        assert f">{shown}<" in page or f"{shown} (" in page, shown


def test_optuna_dashboard_shows_the_study(tmp_path, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="dlpipe-lenet5", storage=storage, direction="maximize")
    study.optimize(lambda trial: -((trial.suggest_float("lr", 1e-4, 1e-1, log=True) - 3e-3) ** 2), n_trials=5)
    port = free_port()
    server = [
        str(Path(sys.executable).parent / "optuna-dashboard"),
        storage,
        *("--host", "127.0.0.1", "--port", str(port)),
    ]
    base = f"http://127.0.0.1:{port}"
    with _serving(server, f"{base}/dashboard", tmp_path / "dashboard.log"):
        page = _render(f"{base}/dashboard", tmp_path / "dashboard.png")
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    assert "dlpipe-lenet5" in page
