"""evaluate@NAME: models/NAME/model.pt + the family's test split -> reports/models/NAME/.

The model's family evaluates it (``dlpipe.tasks.<family>.evaluate``): metrics.json
(the DVC metric the leaderboard reads), the family's plots and, for
classification, the diagnosis; everything goes to the model's MLflow run.
"""

from __future__ import annotations

from dlpipe.config import Params
from dlpipe.tasks import FAMILIES


def run(params: Params, name: str) -> None:
    FAMILIES[params.family_of(name)].part("evaluate").run(params, name)
