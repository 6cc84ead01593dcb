"""tune@NAME and ``dlpipe tune [NAME]``: an Optuna study over ``tune.space`` for one model.

Trials train on the augmented training split and are scored on the
validation split (never the test split). The study resumes when run again;
the reports go to ``reports/tune/NAME/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dlpipe import paths
from dlpipe.config import FAMILY_SECTIONS, Params
from dlpipe.errors import ConfigError
from dlpipe.tuning import report, study


def report_dir(name: str) -> Path:
    return paths.REPORTS / "tune" / name


def _check_space(params: Params, name: str) -> None:
    """A space that samples another family's key would tune nothing, and ``train.keep_prob`` for
    a network without dropout would fail every trial; both refused before the study starts."""
    family = params.family_of(name)
    for key in params.tune.space:
        section = key.partition(".")[0]
        if section in FAMILY_SECTIONS and section != family:
            raise ConfigError(f"tune.space.{key}: {name} is a {family} model, which does not read {section}")
    if "train.keep_prob" not in params.tune.space:
        return
    from dlpipe.models.registry import build_model
    from dlpipe.training.regularization import set_keep_prob

    options = params.model_settings(name).options
    network = build_model(params.arch_of(name), 3, 10, params.data_of(family).image_size, options)
    if not set_keep_prob(network, 1.0):
        raise ConfigError(
            f"tune.space.train.keep_prob: {name} ({params.arch_of(name)}) has no dropout layer to tune; "
            "remove the key from tune.space"
        )


def run(
    params: Params,
    name: str,
    trials: int | None = None,
    timeout: float | None = None,
    workers: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
) -> None:
    _check_space(params, name)
    tune = params.tune
    trials, workers = trials or tune.trials, workers or tune.workers
    timeout = timeout if timeout is not None else tune.timeout
    url, study_name = study.storage_url(tune, storage), study_name or f"dlpipe-{name}"

    opened = study.load_study(params, url, study_name, family=params.family_of(name))
    parent = study.parent_run(params, opened, name, url)
    done = study.finished_trials(opened)
    remaining = max(0, trials - done)
    print(
        f"tune@{name}: study {study_name!r} in {url}: {done} trials finished, {remaining} to run", flush=True
    )
    if remaining:
        study.run_workers(params, url, study_name, name, remaining, timeout, workers)

    opened = study.load_study(params, url, study_name, family=params.family_of(name))
    folder = report_dir(name)
    shutil.rmtree(folder, ignore_errors=True)  # only this study's files, never a previous one's
    best = report.write(params, opened, name, folder, parent)
    if best is None:
        print(f"tune@{name}: no trial completed; nothing to recommend")
        return
    print(f"tune@{name}: best {best['metric']} {best['best_value']:.4f} (trial {best['best_trial']})")
    print(f"tune@{name}: apply it with\n  {best['command']}")
