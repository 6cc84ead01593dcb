"""The search space of ``tune.space``: sampling a trial and turning it into settings.

Optuna sees each dimension under its params key; a ``one_minus`` dimension is
sampled as ``1-<key>`` (so a log scale spreads beta over 0.9, 0.99, 0.999) and
mapped back here.
"""

from __future__ import annotations

from typing import Any

import optuna

from dlpipe.config import FAMILY_SECTIONS, Params, SearchDimension, TrainParams


def optuna_name(key: str, dimension: SearchDimension) -> str:
    return f"1-{key}" if dimension.one_minus else key


def suggest(trial: optuna.trial.BaseTrial, space: dict[str, SearchDimension]) -> dict[str, Any]:
    """Sample every dimension; return params key -> value (1 - x already applied)."""
    values: dict[str, Any] = {}
    for key, dim in space.items():
        name = optuna_name(key, dim)
        if dim.type == "categorical":
            values[key] = trial.suggest_categorical(name, dim.choices)
        elif dim.type == "int":
            values[key] = trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)
        else:
            value = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
            values[key] = 1.0 - value if dim.one_minus else value
    return values


def from_optuna(params: dict[str, Any], space: dict[str, SearchDimension]) -> dict[str, Any]:
    """A trial's Optuna params (``1-train.beta1``...) as params keys and values."""
    values = {}
    for key, dim in space.items():
        name = optuna_name(key, dim)
        if name in params:
            values[key] = 1.0 - params[name] if dim.one_minus else params[name]
    return values


def trial_settings(params: Params, name: str, sampled: dict[str, Any], epochs: int):
    """(model name, TrainParams, builder options, params) of one trial: the model's own settings
    with the sampled values on top (``model`` too, where the space chooses among models; a
    family's keys, such as ``verify.margin``, in the params returned), on one device:
    tune.workers are the tuning's parallelism."""
    name = sampled.get("model", name)
    train = {key.removeprefix("train."): v for key, v in sampled.items() if key.startswith("train.")}
    options = {key.removeprefix("options."): v for key, v in sampled.items() if key.startswith("options.")}
    length = {"epochs": epochs, "steps": None}  # tune.epochs: the pruner's resource
    settings = TrainParams.model_validate({**params.train_for(name).model_dump(), **train, **length})
    settings = settings.in_one_process()
    for key, value in sampled.items():
        section, _, field = key.partition(".")
        if section in FAMILY_SECTIONS:
            updated = getattr(params, section).model_copy(update={field: value})
            params = params.model_copy(update={section: updated})
    return name, settings, {**params.model_settings(name).options, **options}, params


def params_overrides(params: Params, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The params.yaml keys that apply tuned values to model ``name`` (in its family's section)."""
    overrides = {}
    for key, value in values.items():
        if key == "model":
            continue
        section, _, field = key.partition(".")
        where = section if section in FAMILY_SECTIONS else f"{params.model_key(name)}.{section}"
        overrides[f"{where}.{field}"] = value
    return overrides


def dvc_command(overrides: dict[str, Any]) -> str:
    """``dvc exp run -S ...`` that applies ``overrides`` (``++`` adds a key or replaces it)."""

    def shown(value: Any) -> str:
        return (
            f"{value:.6g}"
            if isinstance(value, float)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )

    return "dvc exp run " + " ".join(f"-S '++{key}={shown(value)}'" for key, value in overrides.items())
