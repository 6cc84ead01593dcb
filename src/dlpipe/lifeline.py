"""A stage ends when the command that started it dies, even by SIGKILL.

A `dvc repro` killed with SIGKILL cannot stop its stage: the stage trained on, an orphan, writing
the resume folder that the next `dvc repro` resumed from at the same time. DVC runs a stage
through ``$SHELL -c``; bash replaces itself with the command, but dash (``/bin/sh`` on Debian,
where ``SHELL`` is unset, as in CI and cron) stays as its parent and outlives DVC. So the stage
watches its *owner*, the first ancestor that is not such a shell, and stops as on SIGTERM when
it ends (status 143, its last checkpoint kept); the next run resumes alone.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from pathlib import Path

SHELLS = frozenset({"sh", "dash", "bash", "zsh", "ksh", "mksh", "fish"})


def _arguments(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode(errors="replace").split("\0")


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])  # the name in (...) may hold spaces


def _is_shell_wrapper(pid: int) -> bool:
    """Whether ``pid`` is a shell running one command line (``sh -c 'python -m dlpipe ...'``)."""
    arguments = _arguments(pid)
    return Path(arguments[0]).name.lstrip("-") in SHELLS and "-c" in arguments[1:]


def owner(pid: int | None = None) -> int:
    """The process that started ``pid`` (this one by default), looking through shell wrappers."""
    ancestor = _parent(pid or os.getpid())
    try:
        while ancestor > 1 and _is_shell_wrapper(ancestor):
            ancestor = _parent(ancestor)
    except OSError:  # the wrapper ended meanwhile
        return 1
    return ancestor


def _stop_when_ended(pidfd: int) -> None:
    select.select([pidfd], [], [])  # a pidfd reads ready once its process has ended
    os.kill(os.getpid(), signal.SIGTERM)


def end_with_owner() -> None:
    """Send this process SIGTERM as soon as its owner ends (at once if it already has)."""
    if not sys.platform.startswith("linux"):
        return
    watched = owner()
    if watched <= 1:  # init (or none, in a container) started it: nothing to outlive
        return
    try:
        pidfd = os.pidfd_open(watched)
    except ProcessLookupError:  # it ended while we looked
        os.kill(os.getpid(), signal.SIGTERM)
        return
    threading.Thread(target=_stop_when_ended, args=(pidfd,), name="lifeline", daemon=True).start()
