"""Every path the pipeline reads or writes, relative to the project root.

dvc.yaml declares the same paths; keeping them here means no module
hard-codes a folder name of its own.
"""

from pathlib import Path

DATA = Path("data")
SPLIT_DIR = DATA / "split"
AUGMENTED_DIR = DATA / "augmented"
REPORTS = Path("reports")
REPORTS_BY_MODEL = REPORTS / "models"
MODELS = Path("models")
RESUME = Path(".dlpipe") / "resume"

SPLIT_REPORT = REPORTS / "split.json"
NORMALIZATION = SPLIT_DIR / "normalization.json"
AUGMENTED_TRAIN = AUGMENTED_DIR / "train.npz"
AUGMENT_PREVIEW = REPORTS / "augment_preview.png"
LEADERBOARD_CSV = REPORTS / "leaderboard.csv"
LEADERBOARD_MD = REPORTS / "leaderboard.md"
LEADERBOARD_PNG = REPORTS / "leaderboard.png"
CHAMPION = REPORTS / "champion.json"


def split_file(name: str) -> Path:
    """One split's arrays: ``data/split/{train,val,test}.npz``."""
    return SPLIT_DIR / f"{name}.npz"


def model_dir(arch: str) -> Path:
    return MODELS / arch


def report_dir(arch: str) -> Path:
    """Per-architecture reports. They sit one level down, in ``reports/models/``,
    so that the leaderboard can depend on that one folder while writing its own
    files beside it (a dependency on ``reports/`` would contain its outputs)."""
    return REPORTS_BY_MODEL / arch


def test_probabilities(arch: str) -> Path:
    """evaluate's class probabilities on the test split, read by the leaderboard's ensemble."""
    return report_dir(arch) / "test_probabilities.npz"


def resume_dir(arch: str) -> Path:
    """Where an interrupted train stage keeps its state; DVC never deletes it."""
    return RESUME / arch
