"""The Optuna study: storage with heartbeats, seeded TPE, the pruner, and worker processes.

A study lives in ``tune.storage`` (sqlite by default, any SQLAlchemy URL such
as PostgreSQL for workers on several machines) under its name, and is loaded
again if it exists, so a stopped study resumes. Running trials send a
heartbeat; a trial silent for ``tune.grace_seconds`` (its worker died) is
marked FAIL at the next start of a trial and retried up to ``tune.retries``
times.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from dlpipe import tracking
from dlpipe.config import Params, TuneParams
from dlpipe.errors import TuneError
from dlpipe.tuning.objective import Objective, tuning_tracking

ENV_STORAGE = "DLPIPE_TUNE_STORAGE"
PARENT_RUN_ATTR = "mlflow_parent_run_id"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def storage_url(tune: TuneParams, override: str | None = None) -> str:
    return override or os.environ.get(ENV_STORAGE) or tune.storage


def open_storage(url: str, tune: TuneParams) -> RDBStorage:
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        return RDBStorage(
            url,
            engine_kwargs=engine,
            heartbeat_interval=tune.heartbeat_seconds,
            grace_period=tune.grace_seconds,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=tune.retries),
        )
    except Exception as exc:  # SQLAlchemy's errors: a bad URL, an unreachable server, a missing driver
        raise TuneError(
            f"tune.storage {url!r}: cannot open it ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None


REDUCTION_FACTOR = 3  # successive halving and hyperband


def pruner(tune: TuneParams) -> optuna.pruners.BasePruner:
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=tune.pruner_startup_trials, n_warmup_steps=tune.pruner_warmup_epochs
        )
    # Rungs at steps 1, 3, 9 (epochs 2, 4, 10: Lightning's epochs count from 0): a third of the
    # trials that reach a rung go on to the next.
    if tune.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=REDUCTION_FACTOR)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=tune.epochs, reduction_factor=REDUCTION_FACTOR
        )
    return optuna.pruners.NopPruner()


def load_study(
    params: Params, url: str, study_name: str, worker: int = 0, family: str = "classify"
) -> optuna.Study:
    """Create or load the study, in the direction of ``family``'s primary metric; each worker's
    TPE sampler gets its own seed."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(url, params.tune)
    known = study_name in optuna.get_all_study_names(storage)
    existing = len(optuna.load_study(study_name=study_name, storage=storage).trials) if known else 0
    # Seeds differ per worker and per resumption, so no two samplers replay the same draws.
    sampler = optuna.samplers.TPESampler(seed=params.tune.seed + 1000 * worker + existing)
    return optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner(params.tune),
        direction="maximize" if params.monitor(family)[1] == "max" else "minimize",
        load_if_exists=True,
    )


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def parent_run(params: Params, study: optuna.Study, name: str, url: str) -> str:
    """The study's MLflow run, created once and kept in the study, so a resumed study reuses it."""
    run_id = study.user_attrs.get(PARENT_RUN_ATTR)
    if run_id is None:
        safe_url = url.split("@")[-1] if "@" in url else url  # never log a password
        run_id = tracking.create_run(
            tuning_tracking(params),
            run_name=study.study_name,
            tags={
                "optuna.study": study.study_name,
                "optuna.storage": safe_url,
                "model": name,
                **tracking.source_tags(f"dlpipe tune {name}"),
            },
            logged={
                "tune": params.tune.model_dump(exclude={"space"}),
                "space": params.tune.model_dump()["space"],
            },
        )
        study.set_user_attr(PARENT_RUN_ATTR, run_id)
    return run_id


def _report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    if trial.state == TrialState.COMPLETE:
        shown = f"value {trial.value:.4f}"
    elif trial.state == TrialState.PRUNED:
        shown = f"pruned after epoch {max(trial.intermediate_values, default=-1) + 1}"
    else:
        shown = trial.state.name
    print(f"trial {trial.number}: {shown}", flush=True)


def optimize(
    params: Params,
    url: str,
    study_name: str,
    name: str,
    trials: int,
    timeout: float | None,
    worker: int,
    threads: int | None = None,
) -> None:
    """One worker: run ``trials`` trials of the study (or stop at ``timeout`` seconds), with
    ``threads`` torch threads where it shares the machine with other workers."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    study = load_study(params, url, study_name, worker, params.family_of(name))
    objective = Objective(params, name, study_name, study.user_attrs[PARENT_RUN_ATTR])
    study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[_report], gc_after_trial=True)


def run_workers(
    params: Params, url: str, study_name: str, name: str, remaining: int, timeout: float | None, workers: int
) -> None:
    """Split the remaining trials over ``workers`` processes (this one alone when 1)."""
    shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
    shares = [share for share in shares if share]
    if len(shares) <= 1:
        optimize(params, url, study_name, name, remaining, timeout, 0)
        return
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch threads
    # Each worker's share of the cores: torch's default of a thread per core in each would
    # oversubscribe them, and OpenMP's threads then wait on each other (2.7x slower on 2 cores).
    threads = max(1, len(os.sched_getaffinity(0)) // len(shares))
    processes = [
        context.Process(
            target=optimize,
            args=(params, url, study_name, name, share, timeout, i, threads),
            name=f"tune-worker-{i}",
        )
        for i, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.name for p in processes if p.exitcode != 0]
    if failed:
        raise TuneError(f"tune: {', '.join(failed)} exited with an error; run the same command to resume")
