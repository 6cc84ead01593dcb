"""Tuning: log-scale sampling, the search-space checks, parallel workers on sqlite and
PostgreSQL, a SIGKILLed worker, pruned trials in MLflow, and the recommended command."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState
from PIL import Image

from conftest import REPO, cpu_env
from dlpipe import tracking
from dlpipe.config import ConfigError, SearchDimension, load_params
from dlpipe.stages import augment, split
from dlpipe.stages import tune as tune_stage
from dlpipe.tuning import space, study
from dlpipe.tuning.objective import Objective, tuning_tracking
from postgres import postgres_server, unavailable_reason

SMALL_SPACE = {
    "train.lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True},
    "train.momentum": {"type": "float", "low": 1.0e-2, "high": 1.0e-1, "log": True, "one_minus": True},
    "train.optimizer": {"type": "categorical", "choices": ["sgd", "adamw"]},
}
QUICK = {"epochs": 1, "pruner": "none", "space": SMALL_SPACE, "heartbeat_seconds": 1, "grace_seconds": 3}


def _draws(dimension: dict, count: int = 2000) -> list[float]:
    dims = {"x": SearchDimension(**dimension)}
    trials = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [space.suggest(trials.ask(), dims)["x"] for _ in range(count)]


def test_log_scale_sampling_is_uniform_in_the_exponent():
    draws = _draws({"type": "float", "low": 1e-4, "high": 1e-1, "log": True})
    assert min(draws) >= 1e-4 and max(draws) <= 1e-1
    assert math.log10(statistics.median(draws)) == pytest.approx(-2.5, abs=0.1)  # not ~0.05
    linear = _draws({"type": "float", "low": 1e-4, "high": 1e-1})
    assert statistics.median(linear) == pytest.approx(0.05, abs=0.005)


def test_one_minus_beta_keeps_beta_in_range_and_spreads_it_on_a_log_scale():
    betas = _draws({"type": "float", "low": 1e-3, "high": 1e-1, "log": True, "one_minus": True})
    assert min(betas) >= 0.9 and max(betas) <= 0.999
    assert math.log10(1 - statistics.median(betas)) == pytest.approx(-2.0, abs=0.1)  # median beta ~0.99


def test_best_values_map_back_to_params_keys_and_a_dvc_command():
    dims = {k: SearchDimension(**v) for k, v in SMALL_SPACE.items()}
    values = space.from_optuna({"train.lr": 0.005, "1-train.momentum": 0.02, "train.optimizer": "sgd"}, dims)
    assert values == {"train.lr": 0.005, "train.momentum": pytest.approx(0.98), "train.optimizer": "sgd"}
    params = load_params(REPO / "params.yaml")
    overrides = space.params_overrides(params, "lenet5", values)
    assert space.dvc_command(overrides) == (
        "dvc exp run -S '++models.lenet5.train.lr=0.005' -S '++models.lenet5.train.momentum=0.98' "
        "-S '++models.lenet5.train.optimizer=sgd'"
    )
    # a model of another family is set in that family's section
    assert list(space.params_overrides(params, "corners", {"train.lr": 0.01})) == [
        "landmarks.models.corners.train.lr"
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"train.lrr": {"type": "float", "low": 0.1, "high": 1}},
            "tune.space has train.lrr, which is not a tunable key",
        ),
        (
            {"train.lr": {"type": "float", "low": 0.1, "high": 0.01}},
            "tune.space.train.lr low must be below high",
        ),
        (
            {"train.lr": {"type": "float", "low": 0, "high": 0.1, "log": True}},
            "tune.space.train.lr log: true needs low > 0",
        ),
        (
            {"train.optimizer": {"type": "categorical", "choices": []}},
            "tune.space.train.optimizer needs choices",
        ),
        ({"train.lr": {"type": "uniform", "low": 0, "high": 1}}, "tune.space.train.lr.type must be one of"),
        (
            {"data.seed": {"type": "int", "low": 0, "high": 9}},
            "tune.space has data.seed, which is not tunable",
        ),
    ],
)
def test_bad_search_space_entry_is_a_one_line_error_naming_it(project, entry, message):
    root = project({"tune": {"space": entry}})
    with pytest.raises(ConfigError) as error:
        load_params(root / "params.yaml")
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.fixture
def data_project(project):
    """A project with split and augmented digits, and quick trials of LeNet-5."""

    def make(tune: dict | None = None, copies: int = 1) -> Path:
        root = project({"tune": {**QUICK, **(tune or {})}, "augment": {"copies": copies}})
        params = load_params()
        split.run(params)
        augment.run(params)
        return root

    return make


def _check_parallel_study(url: str, trials: int = 4) -> None:
    params = load_params()
    tune_stage.run(params, "lenet5", trials=trials, workers=2, storage=url)
    finished = optuna.load_study(study_name="dlpipe-lenet5", storage=url).trials
    assert sorted(t.number for t in finished) == list(range(trials))  # no duplicate numbers
    assert [t.state for t in finished] == [TrialState.COMPLETE] * trials
    # each worker trained with its share of the cores, whatever OMP_NUM_THREADS said
    mlflow_client = tracking.client(tuning_tracking(params))
    shares = {
        mlflow_client.get_run(t.user_attrs["mlflow_run_id"]).data.tags["torch_threads"] for t in finished
    }
    assert shares == {str(max(1, len(os.sched_getaffinity(0)) // 2))}
    best = yaml.safe_load(Path("reports/tune/lenet5/best_params.yaml").read_text())
    assert best["best_value"] == max(t.value for t in finished)
    assert best["command"].startswith("dvc exp run -S '++models.lenet5.train.")
    summary = json.loads(Path("reports/tune/lenet5/study.json").read_text())
    assert summary == {
        "study": "dlpipe-lenet5",
        "trials": {"complete": trials},
        "epochs_trained": trials,  # tune.epochs 1 each
        "best_value": best["best_value"],
    }
    with open("reports/tune/lenet5/trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(row["value"]) for row in rows] == [t.value for t in finished]
    history = Path("reports/tune/lenet5/plots/optimization_history.html").read_text()
    for trial in finished:  # the plot's data are the trials' values
        assert repr(trial.value) in history, trial.value
    with Image.open("reports/tune/lenet5/plots/slice.png") as image:
        assert image.format == "PNG" and image.size[0] > 500


@pytest.mark.slow
def test_two_workers_on_one_sqlite_study_finish_exactly_n_trials(data_project, monkeypatch):
    root = data_project()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the workers' torch would take 3 threads each
    _check_parallel_study(f"sqlite:///{root}/optuna.db")
    # A second run resumes the same study: nothing left to do at 4, two more at 6.
    params = load_params()
    tune_stage.run(params, "lenet5", trials=6, workers=1, storage=f"sqlite:///{root}/optuna.db")
    states = [
        t.state
        for t in optuna.load_study(study_name="dlpipe-lenet5", storage=f"sqlite:///{root}/optuna.db").trials
    ]
    assert states == [TrialState.COMPLETE] * 6


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None, reason=f"no PostgreSQL server: {unavailable_reason()}")
def test_two_workers_on_one_postgresql_study_finish_exactly_n_trials(data_project):
    data_project()
    with postgres_server() as url:
        _check_parallel_study(url)


@pytest.mark.slow
def test_sigkilled_worker_leaves_a_resumable_study_and_its_trial_fails_then_is_retried(data_project):
    root = data_project({"epochs": 200})  # a trial far longer than the test waits
    url = f"sqlite:///{root}/optuna.db"
    worker = subprocess.Popen(
        [sys.executable, "-m", "dlpipe", "tune", "lenet5", "--trials", "2"],
        cwd=root,
        env=cpu_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    running = []
    while time.monotonic() < deadline and not running:
        time.sleep(1)
        try:
            trials = optuna.load_study(study_name="dlpipe-lenet5", storage=url).trials
        except KeyError:
            continue
        running = [t for t in trials if t.state == TrialState.RUNNING]
    assert running, worker.stderr.read().decode() if worker.poll() is not None else "no trial started"
    time.sleep(3)  # into the training epochs
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()

    stuck = optuna.load_study(study_name="dlpipe-lenet5", storage=url).trials
    assert [t.state for t in stuck] == [TrialState.RUNNING]  # the dead worker's trial
    time.sleep(4)  # past tune.grace_seconds without a heartbeat
    config = yaml.safe_load((root / "params.yaml").read_text())
    config["tune"]["epochs"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(config))
    tune_stage.run(load_params(), "lenet5", trials=2)

    trials = optuna.load_study(study_name="dlpipe-lenet5", storage=url).trials
    assert trials[0].state == TrialState.FAIL
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 2
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0].params == trials[0].params  # the same settings, again
    assert not [t for t in trials if t.state == TrialState.RUNNING]


HOPELESS_SPACE = {"train.lr": {"type": "float", "low": 1.0e-7, "high": 1.0e-2, "log": True}}


@pytest.mark.parametrize(
    ("pruner", "epochs_before_pruned"),
    # median: after epoch 1, below the one complete trial; successive halving: at its first
    # rung, epoch 2 (step 1), outside the best third of the two trials there; hyperband (one
    # bracket for tune.epochs 2, reduction factor 3): at its first rung, epoch 2, behind the better trial
    [("median", 1), ("successive_halving", 2), ("hyperband", 2)],
)
def test_configured_pruner_prunes_a_hopeless_trial_recorded_as_pruned_in_mlflow(
    data_project, pruner, epochs_before_pruned
):
    root = data_project({"pruner": pruner, "epochs": 2, "pruner_startup_trials": 1}, copies=0)
    config = yaml.safe_load((root / "params.yaml").read_text())
    config["tune"]["space"] = HOPELESS_SPACE  # the lr alone (project() would merge the spaces)
    config["models"]["lenet5"] = {"train": {"steps": 1000}}  # a trial's length is tune.epochs all the same
    (root / "params.yaml").write_text(yaml.safe_dump(config))
    params = load_params()
    assert list(params.tune.space) == ["train.lr"]
    url = f"sqlite:///{root}/optuna.db"
    opened = study.load_study(params, url, "pruned")  # the pruner params.yaml configures
    parent = study.parent_run(params, opened, "lenet5", url)
    opened.enqueue_trial({"train.lr": 3.0e-3})  # the recipe's lr: learns
    opened.enqueue_trial({"train.lr": 1.0e-7})  # hopeless: stays near chance
    opened.optimize(Objective(params, "lenet5", "pruned", parent), n_trials=2)
    good, hopeless = opened.trials
    assert good.state == TrialState.COMPLETE and len(good.intermediate_values) == 2
    assert hopeless.state == TrialState.PRUNED
    assert len(hopeless.intermediate_values) == epochs_before_pruned
    assert max(hopeless.intermediate_values.values()) < 0.2  # chance is 0.1
    assert max(hopeless.intermediate_values.values()) < min(good.intermediate_values.values())
    mlflow_client = tracking.client(tuning_tracking(params))
    run = mlflow_client.get_run(hopeless.user_attrs["mlflow_run_id"])
    assert run.data.tags["optuna.state"] == "PRUNED"
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.params["tuned.train.lr"] == "1e-07" and run.data.params["train.lr"] == "1e-07"
    history = mlflow_client.get_metric_history(run.info.run_id, "val_acc")
    assert len(history) == epochs_before_pruned
