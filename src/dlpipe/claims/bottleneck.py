"""The 1×1 bottleneck's saving, counted with the leaderboard's counter and timed."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from dlpipe.claims.common import Finding, seeded
from dlpipe.models.complexity import multiply_accumulates

SHAPE = (192, 28, 28)
NOTES = {"direct": 1_200_000_000, "bottleneck": 120_000_000}  # the figures the notes give


def _networks() -> dict[str, nn.Module]:
    return {
        "direct": nn.Conv2d(192, 32, 5, padding=2),
        "bottleneck": nn.Sequential(nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2)),
    }


def _seconds(network: nn.Module, batch: torch.Tensor, repeats: int = 5) -> float:
    with torch.inference_mode():
        network(batch)  # warm
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            network(batch)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bottleneck(seeds: list[int]) -> Finding:
    measured: dict[str, list[float]] = {}
    counts = {}
    for seed in seeds:
        seeded(seed)
        batch = torch.randn(16, *SHAPE)
        for label, network in _networks().items():
            counts[label] = multiply_accumulates(network, SHAPE)
            measured.setdefault(f"{label} ms per batch of 16", []).append(1000 * _seconds(network, batch))
    direct, reduced = counts["direct"], counts["bottleneck"]
    by_hand = {
        "direct": 28 * 28 * 32 * 5 * 5 * 192,
        "bottleneck": 28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16,
    }
    if counts != by_hand:
        raise RuntimeError(
            f"the MAC counter gives {counts}, the hand count {by_hand}: it cannot judge the notes"
        )
    within = all(abs(counts[k] - NOTES[k]) <= 0.05 * NOTES[k] for k in NOTES)
    verdict = "confirmed" if within else "corrected"
    milliseconds = {label: statistics.fmean(measured[f"{label} ms per batch of 16"]) for label in counts}
    return Finding(
        claim="A 1×1 bottleneck cuts the computation of 28×28×192 → 28×28×32 by a 5×5 convolution from "
        "1200M to 120M multiplications.",
        setting="5×5 same convolution, 192 → 32 channels, 28×28, vs a 1×1 to 16 channels first; counted by "
        "models/complexity.py (the leaderboard's counter); timed on a batch of 16, the median of 5",
        measured={
            "direct multiplications": [float(direct)] * len(seeds),
            "bottleneck multiplications": [float(reduced)] * len(seeds),
            **measured,
        },
        rule="the counter must agree with 28·28·32·5·5·192 and 28·28·16·192 + 28·28·32·5·5·16; then "
        "confirmed when both are within 5% of the notes' figures, corrected when not",
        verdict=verdict,
        note=f"{direct:,} → {reduced:,} multiplications, {direct / reduced:.1f}× fewer (the notes' "
        f"{NOTES['direct'] / 1e6:,.0f}M → {NOTES['bottleneck'] / 1e6:,.0f}M are "
        f"{NOTES['direct'] / direct:.1f}× and {NOTES['bottleneck'] / reduced:.1f}× the counts); "
        f"{milliseconds['direct'] / milliseconds['bottleneck']:.1f}× faster on this machine",
    )
