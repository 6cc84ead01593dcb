"""A stage knows which process started it, through the shell DVC runs it with, and ends with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import cpu_env

PRINT_OWNER = f"{sys.executable} -c 'from dlpipe.lifeline import owner; print(owner())'; true"


def test_the_owner_is_the_process_above_the_shell_wrappers():
    # "; true" keeps each shell from replacing itself with the command
    for shell in (["dash", "-c"], ["bash", "--noprofile", "--norc", "-c"]):
        nested = [*shell, f'sh -c "{PRINT_OWNER}"; true']
        printed = subprocess.run(nested, env=cpu_env(), capture_output=True, text=True, check=True).stdout
        assert int(printed) == os.getpid()


def test_a_command_ends_by_sigterm_soon_after_its_owner_is_killed(tmp_path):
    marker = tmp_path / "watching"
    watched = (
        "from dlpipe.lifeline import end_with_owner; import pathlib, time; end_with_owner();"
        f" pathlib.Path({str(marker)!r}).touch(); time.sleep(60)"
    )
    # owner: a python that starts dash -c "<the watched command>; true" and sleeps
    starter = (
        "import subprocess, sys, time;"
        f" subprocess.Popen(['dash', '-c', sys.argv[1] + '; echo $? > {tmp_path}/status']); time.sleep(60)"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", starter, f'{sys.executable} -c "{watched}"'], env=cpu_env()
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    owner.kill()
    owner.wait()
    status = tmp_path / "status"
    deadline = time.monotonic() + 10
    while not status.exists() or not status.read_text():
        assert time.monotonic() < deadline, "the command outlived its owner"
        time.sleep(0.05)
    assert status.read_text().strip() == "143"  # 128 + SIGTERM
