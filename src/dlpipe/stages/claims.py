"""claims: the course's claims as seeded experiments (its own pipeline, claims/dvc.yaml).

``dlpipe claims NAME``: claim NAME on every seed of ``claims.seeds`` -> reports/claims/NAME.json.
``dlpipe claims``: every claim's JSON -> reports/claims/claims.md (the table: claim, setting,
the numbers with their spread, the rule and the verdict) and claims.json.
"""

from __future__ import annotations

import dataclasses
import time

from dlpipe import disk, paths
from dlpipe.claims import CLAIMS, experiment
from dlpipe.config import Params
from dlpipe.errors import DataError


def run_claim(params: Params, name: str) -> None:
    seeds = list(params.claims.seeds)
    start = time.perf_counter()
    finding = experiment(name)(seeds)
    seconds = round(time.perf_counter() - start, 1)
    record = {"name": name, **dataclasses.asdict(finding), "seeds": seeds, "seconds": seconds}
    disk.write_json(paths.claim_finding(name), record)
    print(f"claims@{name}: {finding.verdict} ({seconds} s): {finding.note}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(findings: list[dict]) -> str:
    lines = [
        "# The course's claims, measured",
        "",
        f"Seeds {', '.join(map(str, findings[0]['seeds']))}; each number is the mean ± standard deviation "
        "over them. `make claims` reruns this table.",
        "",
        "| # | claim | setting | measured | verdict | rule | s |",
        "|---:|---|---|---|---|---|---:|",
    ]
    for number, found in enumerate(findings, 1):
        cells = [found["claim"], found["setting"], found["note"], f"**{found['verdict']}**", found["rule"]]
        lines.append(f"| {number} | " + " | ".join(map(_cell, cells)) + f" | {found['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def run_table() -> None:
    findings = []
    for name in CLAIMS:
        path = paths.claim_finding(name)
        if not path.exists():
            raise DataError(f"{path}: missing; run `make claims` (or `dvc repro claims/dvc.yaml`)")
        findings.append(disk.read_json(path))
    disk.write_json(paths.CLAIMS_JSON, findings)
    disk.write_text(paths.CLAIMS_TABLE, table(findings))
    verdicts = [found["verdict"] for found in findings]
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts))
    print(f"claims: {paths.CLAIMS_TABLE} ({counts})")


def run(params: Params, name: str | None = None) -> None:
    if name is None:
        run_table()
    else:
        run_claim(params, name)
