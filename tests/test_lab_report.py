"""The lab report's sections that a default run does not make: the claims table and tuning
studies appear when their folders exist. (The page over a whole run, opened in Chromium, is in
test_pipeline_dvc.py.)"""

from __future__ import annotations

from pathlib import Path

from dlpipe import lab_report
from dlpipe.stages.claims import table
from test_claims import FOUND

MLFLOW_UI = "http://127.0.0.1:5000"


def test_the_claims_table_has_its_section_when_make_claims_has_run(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert 'id="claims"' not in lab_report.page({}, {}, MLFLOW_UI, "mlflow ui")
    (tmp_path / "reports/claims").mkdir(parents=True)
    (tmp_path / "reports/claims/claims.md").write_text(table([FOUND]))
    page = lab_report.page({}, {}, MLFLOW_UI, "mlflow ui")
    assert '<section id="claims">' in page and '<a href="#claims">' in page
    assert "<td><strong>corrected</strong></td>" in page  # the Markdown table, rendered


def test_a_tuning_study_shows_its_plots_best_params_and_interactive_pages(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = tmp_path / "reports/tune/lenet5"
    study.mkdir(parents=True)
    (study / "optimization_history.png").write_bytes(b"png")
    (study / "optimization_history.html").write_text("<html></html>")
    (study / "best_params.yaml").write_text("best_value: 0.99 <b>\n")
    page = lab_report.page({}, {}, MLFLOW_UI, "mlflow ui")
    assert '<section id="tune-lenet5"><h2>Tuning study: lenet5</h2>' in page
    assert '<img src="tune/lenet5/optimization_history.png"' in page
    assert '<a href="tune/lenet5/optimization_history.html">' in page
    assert "best_value: 0.99 &lt;b&gt;" in page  # the file's text, escaped
