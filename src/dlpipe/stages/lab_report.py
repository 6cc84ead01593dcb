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


def mlflow_ui(params: Params) -> tuple[str, str]:
    """Where the run pages are, and how to open them."""
    uri = tracking.tracking_uri(params.tracking)
    if uri.startswith(("http://", "https://")):
        return uri.rstrip("/"), "the tracking server"
    return MLFLOW_UI, f"mlflow ui --backend-store-uri {uri}"


def run_links(params: Params, names: list[str], base: str) -> dict[str, str]:
    """Each trained model's run page, for the models whose run record exists (nothing is created
    in MLflow: without runs there is nothing to link)."""
    recorded = [name for name in names if tracking.run_record(name).exists()]
    if not recorded:
        return {}
    experiment = tracking.client(params.tracking).get_experiment_by_name(params.tracking.experiment)
    if experiment is None:
        return {}
    return {
        name: f"{base}/#/experiments/{experiment.experiment_id}/runs/{tracking.read_run_id(name)}"
        for name in recorded
    }


def run(params: Params) -> None:
    models = {family: list(params.models_of(family)) for family in FAMILIES}
    base, how = mlflow_ui(params)
    links = run_links(params, [name for names in models.values() for name in names], base)
    lab_report.write(models, links, base, how)
    print(f"lab_report: {paths.LAB_REPORT} ({sum(map(len, models.values()))} models, {len(links)} linked)")
