"""What a study leaves behind: best_params.yaml with its `dvc exp run` command, the trials
as CSV, and Optuna's plots as HTML (plotly) and PNG (matplotlib), logged to the parent run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from dlpipe import disk, tracking
from dlpipe.config import Params
from dlpipe.tuning import space
from dlpipe.tuning.objective import tuning_tracking

PLOTS = ("optimization_history", "param_importances", "slice", "parallel_coordinate")


def best_params(params: Params, study: optuna.Study, name: str) -> dict[str, Any]:
    best = study.best_trial
    values = space.from_optuna(best.params, params.tune.space)
    name = values.get("model", name)
    overrides = space.params_overrides(params, name, values)
    return {
        "study": study.study_name,
        "model": name,
        "metric": params.monitor(params.family_of(name))[0],
        "best_value": best.value,
        "best_trial": best.number,
        "params": overrides,
        "command": space.dvc_command(overrides),
    }


def trials_csv(study: optuna.Study) -> str:
    frame = study.trials_dataframe(attrs=("number", "value", "state", "params", "duration"))
    return frame.to_csv(index=False)


def _plot_functions(module) -> dict[str, Any]:
    return {name: getattr(module, f"plot_{name}") for name in PLOTS}


def save_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Every plot that the finished trials allow, as HTML and PNG; returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna import visualization
    from optuna.visualization import matplotlib as optuna_matplotlib

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    wanted = [name for name in PLOTS if complete and (name != "param_importances" or len(complete) >= 2)]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)  # matplotlib on one-valued axes and tight_layout
        for name in wanted:
            html = folder / f"{name}.html"
            # One shared plotly.min.js beside the pages: they open offline, and stay small.
            _plot_functions(visualization)[name](study).write_html(str(html), include_plotlyjs="directory")
            png = folder / f"{name}.png"
            axes = _plot_functions(optuna_matplotlib)[name](study)
            figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
            # One panel per dimension in the slice plot: give each room for its axis labels.
            width = max(9.0, 2.8 * len(study.best_params)) if name == "slice" else 9.0
            figure.set_size_inches(width, 5.5)
            figure.tight_layout()
            figure.savefig(png, dpi=90)
            plt.close(figure)
            written += [html, png]
    if written:
        written.append(folder / "plotly.min.js")
    return written


def write(
    params: Params, study: optuna.Study, name: str, folder: Path, parent_run_id: str
) -> dict[str, Any] | None:
    """Write the reports into ``folder``; None when no trial has completed yet."""
    folder.mkdir(parents=True, exist_ok=True)
    disk.write_text(folder / "trials.csv", trials_csv(study))
    states = [t.state for t in study.get_trials(deepcopy=False)]
    summary = {state.name.lower(): states.count(state) for state in TrialState if states.count(state)}
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        disk.write_json(folder / "study.json", {"study": study.study_name, "trials": summary})
        return None
    best = best_params(params, study, name)
    disk.write_text(folder / "best_params.yaml", yaml.safe_dump(best, sort_keys=False))
    epochs = sum(len(t.intermediate_values) for t in study.get_trials(deepcopy=False))
    disk.write_json(
        folder / "study.json",
        {
            "study": study.study_name,
            "trials": summary,
            "epochs_trained": epochs,
            "best_value": best["best_value"],
        },
    )
    plots = save_plots(study, folder / "plots")
    mlflow_client = tracking.client(tuning_tracking(params))
    for file in (folder / "best_params.yaml", folder / "trials.csv", folder / "study.json"):
        mlflow_client.log_artifact(parent_run_id, str(file))
    for file in plots:
        mlflow_client.log_artifact(parent_run_id, str(file), "plots")
    tracking.log_metrics(
        tuning_tracking(params), parent_run_id, {f"best_{best['metric']}": best["best_value"]}
    )
    return best
