"""The registered model alias ``champion``: each family's best model, and how to find it.

export registers every model as ``<prefix><name>``; the leaderboard moves the
alias to the newest version of each family's best one, so
``models:/<prefix><best>@champion`` always names the model to ship for that family.
"""

from __future__ import annotations

import contextlib

from dlpipe import tracking
from dlpipe.config import Params
from dlpipe.errors import DataError

ALIAS = "champion"


def registered_name(params: Params, name: str) -> str:
    """The MLflow registry's name of model ``name``."""
    return f"{params.tracking.registered_model_prefix}{name}"


def crown(params: Params, family: str, best: str) -> dict:
    """Give ``best``'s newest registered version the alias, and take it from every other model
    of its family."""
    from mlflow.exceptions import MlflowException

    client = tracking.client(params.tracking)
    registered = registered_name(params, best)
    versions = client.search_model_versions(f"name='{registered}'")
    if not versions:
        raise DataError(f"MLflow has no registered model {registered!r}: run `dvc repro export@{best}`")
    newest = max(versions, key=lambda v: int(v.version))
    for other in params.models_of(family):
        if other != best:
            # MlflowException: that model is not registered, or never held the alias.
            with contextlib.suppress(MlflowException):
                client.delete_registered_model_alias(registered_name(params, other), ALIAS)
    client.set_registered_model_alias(registered, ALIAS, newest.version)
    return {
        "model": best,
        "registered_model": registered,
        "version": int(newest.version),
        "uri": f"models:/{registered}@{ALIAS}",
    }


def champion_of(params: Params, family: str) -> tuple[str, str]:
    """(``models:/<name>@champion``, the model's key in models) of the family's registered model
    that holds the alias."""
    from mlflow.exceptions import MlflowException

    client = tracking.client(params.tracking)
    for name in params.models_of(family):
        registered = registered_name(params, name)
        try:
            client.get_model_version_by_alias(registered, ALIAS)
        except MlflowException:
            continue
        return f"models:/{registered}@{ALIAS}", name
    raise DataError(f"no {family} model has the alias champion: run `dvc repro` first")
