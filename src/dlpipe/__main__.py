"""``python -m dlpipe <stage> [NAME|FAMILY]``: one subcommand per DVC stage, plus tune and predict.

Stage modules are imported only when their subcommand runs, so the stages
that need no torch (split, augment, leaderboard) start without importing it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dlpipe.claims import CLAIMS
from dlpipe.errors import ConfigError, DlpipeError
from dlpipe.paths import PARAMS_FILE
from dlpipe.tasks import FAMILIES

STAGES_WITH_MODEL = ("train", "evaluate", "export")
STAGES_WITH_FAMILY = ("split", "augment")
STAGES = (*STAGES_WITH_FAMILY, *STAGES_WITH_MODEL, "transfer", "leaderboard", "lab_report")
# The commands that talk to MLflow: its server is asked first, before they write anything.
TRACKED = (*STAGES_WITH_MODEL, "transfer", "leaderboard", "lab_report", "tune", "predict")


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlpipe", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    families = ", ".join(FAMILIES)
    for stage in STAGES:
        sub = commands.add_parser(stage, help=f"run the {stage} stage")
        if stage in STAGES_WITH_MODEL:
            sub.add_argument(
                "name", metavar="NAME", help="a model: a key of a family's models in params.yaml"
            )
        if stage in STAGES_WITH_FAMILY:
            sub.add_argument(
                "family",
                nargs="?",
                default="classify",
                choices=list(FAMILIES),
                metavar="FAMILY",
                help=f"the task family whose data set to process ({families}; default classify)",
            )
    tune = commands.add_parser("tune", help="an Optuna study over tune.space (resumes if it exists)")
    tune.add_argument(
        "name", metavar="NAME", nargs="?", help="a model: a key of models (default: tune.model)"
    )
    tune.add_argument("--trials", type=_positive(int), help="finished trials the study should reach")
    tune.add_argument("--timeout", type=_positive(float), help="seconds per worker")
    tune.add_argument("--workers", type=_positive(int), help="processes working on the study")
    tune.add_argument("--storage", help="SQLAlchemy URL of the study database")
    tune.add_argument("--study", help="study name (default: dlpipe-NAME)")
    claims = commands.add_parser("claims", help="one of the course's claims as an experiment, or the table")
    claims.add_argument(
        "claim", metavar="CLAIM", nargs="?", choices=list(CLAIMS), help=f"one of: {', '.join(CLAIMS)}"
    )
    predict = commands.add_parser("predict", help="a trained model's results on image files")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="PNG or JPEG files (clips: .npy)")
    predict.add_argument(
        "--model", help="a model: a key of any family's models (default: the family's champion)"
    )
    predict.add_argument(
        "--family", default="classify", choices=list(FAMILIES), help=f"whose champion ({families})"
    )
    predict.add_argument("--top", type=_positive(int), default=5, help="classes shown per image")
    predict.add_argument("--out", default=".", help="detect: the folder its images with boxes go to")
    stylize = commands.add_parser(
        "stylize", help="the style gallery (the stage), or CONTENT in the style of STYLE with -o OUT.png"
    )
    stylize.add_argument("content", metavar="CONTENT", nargs="?", help="a built-in image's name or a file")
    stylize.add_argument("style", metavar="STYLE", nargs="?", help="a built-in image's name or a file")
    stylize.add_argument("-o", "--out", help="the PNG to write (with CONTENT and STYLE)")
    model_help = "a model of verify.models (default: its only one)"
    enroll = commands.add_parser("enroll", help="store one embedding per person of DIR/<identity>/<image>")
    enroll.add_argument("folder", metavar="DIR", help="a folder of person folders, one photo or more each")
    enroll.add_argument("--model", help=model_help)
    check = commands.add_parser("verify", help="whether IMAGE is the enrolled IDENTITY")
    check.add_argument("image", metavar="IMAGE", help="a PNG or JPEG file")
    check.add_argument("identity", metavar="IDENTITY", help="an enrolled person's folder name")
    check.add_argument("--model", help=model_help)
    identify = commands.add_parser("identify", help="the enrolled identities nearest to IMAGE")
    identify.add_argument("image", metavar="IMAGE", help="a PNG or JPEG file")
    identify.add_argument("--top", type=_positive(int), default=3, help="nearest identities shown")
    identify.add_argument("--model", help=model_help)
    return parser


def _model_name(params, name: str) -> str:
    if name not in params.model_families:
        listed = ", ".join(params.model_families)
        raise ConfigError(f"no family's models lists {name!r} (listed: {listed})")
    return name


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from dlpipe.config import load_params

        params = load_params()
        one_image = args.stage == "stylize" and (args.content or args.style or args.out)
        if one_image and not (args.content and args.style and args.out):
            raise DlpipeError("stylize: give CONTENT, STYLE and -o OUT.png together (or none: the gallery)")
        if args.stage in TRACKED or (args.stage == "stylize" and not one_image):
            from dlpipe import tracking

            tracking.check_server(params.tracking)
        if args.stage == "predict":
            from dlpipe import inference

            inference.run(params, args.images, args.family, args.model, args.top, args.out)
            return 0
        if args.stage in ("enroll", "verify", "identify"):
            from dlpipe.tasks.verify import gallery

            if args.stage == "enroll":
                gallery.enroll(params, args.folder, args.model)
            elif args.stage == "verify":
                return 0 if gallery.verify(params, args.image, args.identity, args.model) else 1
            else:
                gallery.identify(params, args.image, args.top, args.model)
            return 0
        stage = importlib.import_module(f"dlpipe.stages.{args.stage}")
        if one_image:
            from pathlib import Path

            stage.one(params, args.content, args.style, Path(args.out))
        elif args.stage == "claims":
            stage.run(params, args.claim)
        elif args.stage == "tune":
            name = _model_name(params, args.name or params.tune.model)
            stage.run(params, name, args.trials, args.timeout, args.workers, args.storage, args.study)
        elif args.stage in STAGES_WITH_MODEL:
            stage.run(params, _model_name(params, args.name))
        elif args.stage in STAGES_WITH_FAMILY:
            stage.run(params, args.family)
        else:
            stage.run(params)
    except ConfigError as exc:
        print(f"{PARAMS_FILE}: {exc}", file=sys.stderr)
        return 2
    except DlpipeError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cli() -> int:
    """The ``dlpipe`` command: a preloaded worker runs it when ``dlpipe.preload`` announced one."""
    from dlpipe import lifeline, preload

    lifeline.end_with_owner()

    status = preload.delegate(sys.argv[1:], "dlpipe.__main__:main")
    return main() if status is None else status


if __name__ == "__main__":
    sys.exit(cli())
