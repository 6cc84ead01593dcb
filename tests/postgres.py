"""A throw-away PostgreSQL server for the tests: Debian's binaries, a temporary cluster,
a Unix socket only (no TCP port), stopped and deleted afterwards.

PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def unavailable_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        return "PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield its SQLAlchemy URL (database ``postgres``)."""
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    folder = tempfile.mkdtemp(prefix="dlpipe-pg-")
    data = os.path.join(folder, "data")
    if as_root:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    user_name = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    options = f"-c listen_addresses='' -k {folder} -c max_connections=50"
    try:
        subprocess.run(
            [*prefix, _binary("initdb"), "-D", data, "-U", user_name, "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *prefix,
                _binary("pg_ctl"),
                "-D",
                data,
                "-o",
                options,
                "-w",
                "-l",
                os.path.join(folder, "log"),
                "start",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg2://{user_name}@/postgres?host={folder}"
    finally:
        subprocess.run(
            [*prefix, _binary("pg_ctl"), "-D", data, "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)
