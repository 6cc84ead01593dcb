"""The course's claims, each a small seeded experiment with a written rule for its verdict.

A claim is a function ``(seeds) -> Finding`` (claims/common.py); this registry names them in
the order of the course, as ``module:function`` so that listing them imports no torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlpipe.claims.common import Finding

CLAIMS: dict[str, str] = {
    "zero_init": "dlpipe.claims.initialisation:zero_init",
    "init_scales": "dlpipe.claims.initialisation:init_scales",
    "normalised_inputs": "dlpipe.claims.optimisation:normalised_inputs",
    "batch_sizes": "dlpipe.claims.optimisation:batch_sizes",
    "optimisers": "dlpipe.claims.optimisation:optimisers",
    "lr_decay": "dlpipe.claims.optimisation:lr_decay",
    "batch_norm_lr": "dlpipe.claims.normalisation:batch_norm_lr",
    "plain_vs_residual": "dlpipe.claims.depth:plain_vs_residual",
    "bottleneck": "dlpipe.claims.bottleneck:bottleneck",
    "regularisers": "dlpipe.claims.regularisation:regularisers",
    "tta_ensemble": "dlpipe.claims.test_time:tta_ensemble",
    "warmup": "dlpipe.claims.depth:warmup",
    "mixup": "dlpipe.claims.regularisation:mixup_claim",
    "fine_tuning": "dlpipe.claims.fine_tuning:fine_tuning",
    "batch_norm_eval": "dlpipe.claims.normalisation:batch_norm_eval",
}


def experiment(name: str) -> Callable[[list[int]], Finding]:
    module, function = CLAIMS[name].split(":")
    return getattr(importlib.import_module(module), function)
