"""The claims: their own pipeline, the stage that runs one, the table, the verdict rule, and the
lab report's section. The whole set runs in `make claims` (benchmarks/README.md has the table);
here two of the cheap ones run for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_cli, write_params
from dlpipe.claims import CLAIMS
from dlpipe.claims.common import exceeds
from dlpipe.stages.claims import table


def test_the_claims_pipeline_runs_every_claim_and_a_plain_dvc_repro_none():
    claims = yaml.safe_load((REPO / "claims/dvc.yaml").read_text())["stages"]
    assert claims["claim"]["foreach"] == list(CLAIMS)
    table_deps = claims["table"]["deps"]
    assert [f"reports/claims/{name}.json" for name in CLAIMS] == [
        d for d in table_deps if d.endswith(".json")
    ]
    root = (REPO / "dvc.yaml").read_text()
    assert "dlpipe claims" not in root


def test_exceeds_needs_the_per_seed_differences_beyond_two_standard_errors():
    assert exceeds([0.9, 0.7, 0.95], [0.85, 0.65, 0.9])  # spreads overlap; each seed 0.05 up
    assert not exceeds([0.9, 0.7, 0.95], [0.85, 0.8, 0.75])  # up on two seeds, down on one
    assert not exceeds([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert not exceeds([0.4, 0.4, 0.4], [0.5, 0.5, 0.5])


def test_a_claim_runs_once_per_seed_of_claims_seeds_and_corrects_the_notes(tmp_path: Path):
    write_params(tmp_path, {"claims": {"seeds": [3, 4, 5, 6]}})
    result = run_cli("claims", "bottleneck", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads((tmp_path / "reports/claims/bottleneck.json").read_text())
    assert found["seeds"] == [3, 4, 5, 6]
    assert all(len(values) == 4 for values in found["measured"].values())
    assert found["measured"]["direct multiplications"][0] == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400
    assert found["measured"]["bottleneck multiplications"][0] == 12_443_648
    assert found["verdict"] == "corrected" and "120,422,400 → 12,443,648" in found["note"]
    assert result.stdout.startswith("claims@bottleneck: corrected")


def test_batch_norm_at_test_time_uses_its_running_averages(tmp_path: Path):
    write_params(tmp_path)
    result = run_cli("claims", "batch_norm_eval", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads((tmp_path / "reports/claims/batch_norm_eval.json").read_text())
    assert found["verdict"] == "confirmed"
    assert max(found["measured"]["eval mode: alone vs in a batch"]) < 1e-4
    assert min(found["measured"]["train mode: alone vs in a batch"]) > 1e-2


@pytest.mark.parametrize("seeds", [[0, 1], [0, 1, 1], [-1, 0, 1]])
def test_claims_seeds_need_three_distinct_seeds(tmp_path: Path, seeds: list[int]):
    write_params(tmp_path, {"claims": {"seeds": seeds}})
    result = run_cli("claims", "bottleneck", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("params.yaml: claims.seeds")
    assert not (tmp_path / "reports").exists()


def test_the_table_names_the_first_missing_claim(tmp_path: Path):
    write_params(tmp_path)
    result = run_cli("claims", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "reports/claims/zero_init.json: missing; run `make claims` (or `dvc repro claims/dvc.yaml`)"
    )
    assert not (tmp_path / "reports/claims/claims.md").exists()


FOUND = {
    "name": "bottleneck",
    "claim": "A 1×1 bottleneck cuts the computation.",
    "setting": "5×5 | 1×1",
    "measured": {"direct multiplications": [1.0, 1.0, 1.0]},
    "rule": "corrected when they differ",
    "verdict": "corrected",
    "note": "120,422,400 → 12,443,648",
    "detail": None,
    "seeds": [0, 1, 2],
    "seconds": 2.0,
}


def test_the_table_has_a_row_per_claim_with_its_numbers_and_verdict():
    rows = table([FOUND, {**FOUND, "verdict": "confirmed", "seconds": 12.4}]).splitlines()
    assert "Seeds 0, 1, 2;" in rows[2]
    assert rows[-2] == (
        "| 1 | A 1×1 bottleneck cuts the computation. | 5×5 \\| 1×1 | 120,422,400 → 12,443,648 | "
        "**corrected** | corrected when they differ | 2 |"
    )
    assert rows[-1].endswith("| **confirmed** | corrected when they differ | 12 |")
