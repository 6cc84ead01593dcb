"""lab_report: reports/ (every family's leaderboard and model reports, the augment previews, the
transfer, style, tuning and claims folders when present) -> reports/index.html.

Each model's name links to its MLflow run: on the tracking server when ``tracking.uri`` is one,
otherwise on ``mlflow ui``'s default address over the local store.
"""

from __future__ import annotations

from dlpipe import lab_report, paths, tracking
from dlpipe.config import Params
from dlpipe.tasks import FAMILIES

MLFLOW_UI = "http://127.0.0.1:5000"  # `mlflow ui`'s default address


def mlflow_ui(params: Params) -> str:
    uri = tracking.tracking_uri(params.tracking)
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else MLFLOW_UI


def run_links(params: Params, names: list[str], base: str) -> dict[str, str]:
    """Each trained model's run page, for the models whose run record exists."""
    experiment = tracking.experiment_id(params.tracking)
    links = {}
    for name in names:
        if tracking.run_record(name).exists():
            links[name] = f"{base}/#/experiments/{experiment}/runs/{tracking.read_run_id(name)}"
    return links


def run(params: Params) -> None:
    models = {family: list(params.models_of(family)) for family in FAMILIES}
    base = mlflow_ui(params)
    links = run_links(params, [name for names in models.values() for name in names], base)
    lab_report.write(models, links, base)
    print(f"lab_report: {paths.LAB_REPORT} ({sum(map(len, models.values()))} models, {len(links)} linked)")
