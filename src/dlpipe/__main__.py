"""``python -m dlpipe <stage> [ARCH]``: one subcommand per DVC stage.

Stage modules are imported only when their subcommand runs, so the stages
that need no torch (split, augment, leaderboard) start without importing it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dlpipe.errors import DlpipeError

STAGES_WITH_ARCH = ("train", "evaluate", "export")
STAGES = ("split", "augment", *STAGES_WITH_ARCH, "transfer", "leaderboard")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlpipe", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES:
        sub = commands.add_parser(stage, help=f"run the {stage} stage")
        if stage in STAGES_WITH_ARCH:
            sub.add_argument("arch", metavar="NAME", help="an entry of params.yaml's models")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from dlpipe.config import load_params

        params = load_params()
        stage = importlib.import_module(f"dlpipe.stages.{args.stage}")
        if args.stage in STAGES_WITH_ARCH:
            if args.arch not in params.models:
                raise DlpipeError(
                    f"params.yaml: models does not list {args.arch!r} (listed: {', '.join(params.models)})"
                )
            stage.run(params, args.arch)
        else:
            stage.run(params)
    except DlpipeError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
