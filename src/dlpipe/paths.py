"""Every path the pipeline reads or writes, relative to the project root.

dvc.yaml declares the same paths; keeping them here means no module
hard-codes a folder or file name of its own. Each task family has its own
data set (``data/<family>/``) and each model its own model and report folders.
"""

from pathlib import Path

PARAMS_FILE = Path("params.yaml")
DATA = Path("data")
REPORTS = Path("reports")
REPORTS_BY_MODEL = REPORTS / "models"
MODELS = Path("models")
RESUME = Path(".dlpipe") / "resume"

LEADERBOARD_MD = REPORTS / "leaderboard.md"
CHAMPION = REPORTS / "champion.json"
TRANSFER_METRICS = REPORTS / "transfer" / "metrics.json"
TUNE_REPORTS = REPORTS / "tune"
CLAIMS = REPORTS / "claims"  # make claims: one JSON per claim and the table
CLAIMS_TABLE = CLAIMS / "claims.md"
CLAIMS_JSON = CLAIMS / "claims.json"  # the table's rows, for machines
LAB_REPORT = REPORTS / "index.html"  # the lab report: every family's results on one page

# Files of one model: models/NAME/... and reports/models/NAME/...
MODEL_FILE = "model.pt"
ONNX_FILE = "model.onnx"
PROGRAM_FILE = "model.pt2"
RUN_RECORD = "run.json"
METRICS = "metrics.json"
TRAIN_SUMMARY = "train.json"
EXPORT_SUMMARY = "export.json"
HISTORY_CSV = "history.csv"
HISTORY_PNG = "history.png"
DIAGNOSIS_JSON = "diagnosis.json"
DIAGNOSIS_MD = "diagnosis.md"


def split_dir(family: str) -> Path:
    return DATA / family / "split"


def split_file(family: str, name: str) -> Path:
    """One split's arrays: ``data/<family>/split/{train,val,test}.npz``."""
    return split_dir(family) / f"{name}.npz"


def normalization(family: str) -> Path:
    """Per-channel mean and std of the family's training images."""
    return split_dir(family) / "normalization.json"


def augmented_train(family: str) -> Path:
    return DATA / family / "augmented" / "train.npz"


def split_report(family: str) -> Path:
    return REPORTS / family / "split.json"


def augment_preview(family: str) -> Path:
    return REPORTS / family / "augment_preview.png"


def leaderboard_csv(family: str) -> Path:
    return REPORTS / "leaderboard" / f"{family}.csv"


def leaderboard_png(family: str) -> Path:
    return REPORTS / "leaderboard" / f"{family}.png"


def model_dir(name: str) -> Path:
    return MODELS / name


def model_file(name: str) -> Path:
    return model_dir(name) / MODEL_FILE


def gallery(name: str) -> Path:
    """The identities ``dlpipe enroll`` stored for verify model ``name``: embeddings, never images."""
    return model_dir(name) / "gallery.npz"


STYLE = REPORTS / "style"  # the stylize stage's gallery, metrics and loss curves


def claim_finding(name: str) -> Path:
    """One claim's result: reports/claims/NAME.json."""
    return CLAIMS / f"{name}.json"


def report_dir(name: str) -> Path:
    """Per-model reports. They sit one level down, in ``reports/models/``,
    so that the leaderboard can depend on that one folder while writing its own
    files beside it (a dependency on ``reports/`` would contain its outputs)."""
    return REPORTS_BY_MODEL / name


def test_probabilities(name: str) -> Path:
    """evaluate's class probabilities on the test split, read by the leaderboard's ensemble."""
    return report_dir(name) / "test_probabilities.npz"


def resume_dir(name: str) -> Path:
    """Where an interrupted train stage keeps its state; DVC never deletes it."""
    return RESUME / name
