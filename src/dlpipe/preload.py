"""``python -m dlpipe.preload CMD...``: run CMD (``dvc repro``) with the libraries imported once.

Every DVC stage is a fresh ``python -m dlpipe`` process, and most of a short
stage is spent importing torch, Lightning and MLflow (10-20 s of a 25 s
``train@logreg`` on 2 cores). This module is a preloader, the pattern of
Python's own ``multiprocessing`` forkserver: a server imports the libraries
once (those of the first stages before it serves, the rest between requests), then
forks a worker per stage. The stage process DVC starts only hands
its arguments, working directory, environment and standard streams to a
worker, forwards signals to it and exits with its status, so DVC sees the
same command, outputs and exit codes as without the server. DVC itself runs through
``dlpipe.dvc_files``, which writes its dvc.lock a stage at a time.

The server imports third-party libraries only: each worker imports dlpipe's
own code afresh, so what runs is the code on disk. Without ``DLPIPE_PRELOAD``
in the environment, or when its socket does not answer, ``python -m dlpipe``
runs the stage in its own process as before.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ENV = "DLPIPE_PRELOAD"

# What the stages import that takes seconds (found by listing the modules a worker still had
# to import); dlpipe itself is never preloaded.
LIBRARIES = (
    "numpy",
    "yaml",
    "pydantic",
    "PIL.Image",
    "torch",
    "torchvision",
    "sklearn.datasets",  # split's digits
    "sklearn.model_selection",  # split's stratified split
    "lightning.pytorch",
    "torch._dynamo",
    "torch.export._trace",
    "torch.onnx",
    "torch.onnx._internal.exporter._core",
    "onnxscript.function_libs.torch_lib.ops",
    "onnx",
    "onnx.reference",
    "onnxscript",
    "onnxruntime",
    "networkx",
    "mlflow",
    "mlflow.onnx",
    "mlflow.pyfunc",
    "mlflow.models",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "sqlalchemy.dialects.sqlite",
    "opentelemetry.sdk.metrics",
    "omegaconf",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "albumentations",
    "sklearn.metrics",  # verify's ROC
)


_HEADER = struct.Struct("!I")
_STREAMS = 3  # stdin, stdout, stderr


def _send_message(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    header = _HEADER.pack(len(data))
    if fds:
        socket.send_fds(conn, [header], fds)
    else:
        conn.sendall(header)
    conn.sendall(data)


def _receive_exactly(conn: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = conn.recv(size)
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive_message(conn: socket.socket, fds: int = 0) -> tuple[dict, list[int]]:
    if fds:
        header, received, _, _ = socket.recv_fds(conn, _HEADER.size, fds)
    else:
        header, received = _receive_exactly(conn, _HEADER.size), []
    if len(header) < _HEADER.size:
        header += _receive_exactly(conn, _HEADER.size - len(header))
    (size,) = _HEADER.unpack(header)
    return json.loads(_receive_exactly(conn, size)), received


# --- the client: what `python -m dlpipe` does when a server is announced -------------------


def delegate(argv: list[str], entry: str) -> int | None:
    """Run ``entry`` (``"module:function"``, the command's main taking ARGV) in a preloaded
    worker; its exit status, or None to run it here. The worker imports ``entry`` by name, so
    this module never imports the command line that calls it."""
    path = os.environ.get(ENV)
    if not path:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError as exc:
        print(f"dlpipe: preload server {path} does not answer ({exc}); running here", file=sys.stderr)
        conn.close()
        return None
    with conn:
        request = {"argv": argv, "entry": entry, "cwd": os.getcwd(), "env": dict(os.environ)}
        _send_message(conn, request, list(range(_STREAMS)))
        try:
            pid = _receive_message(conn)[0]["pid"]
        except (ConnectionError, ValueError):
            print(f"dlpipe: preload server {path} closed the connection", file=sys.stderr)
            return 1
        forwarded: list[int] = []

        def forward(signum: int, _frame) -> None:
            forwarded.append(signum)
            os.kill(pid, signum)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, forward)
        try:
            return int(_receive_message(conn)[0]["status"])
        except (ConnectionError, ValueError):
            if forwarded:  # killed by the signal we passed on, as this process would have been
                return 128 + forwarded[-1]
            print(f"dlpipe: the preloaded worker {pid} died without an exit status", file=sys.stderr)
            return 1


# --- the worker: a fork of the server, running one stage ------------------------------------


def _adopt_streams(fds: list[int]) -> None:
    """Make the client's stdin, stdout and stderr this process's own, at the fd and Python level."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115


def _die_with_client(conn: socket.socket) -> threading.Event:
    """A client gone (killed by DVC, say) takes its worker with it: no orphan writes outputs.

    Set the returned event before the last message: the client closes after reading it.
    """
    finished = threading.Event()

    def watch() -> None:
        with contextlib.suppress(OSError):
            conn.recv(1)
        if not finished.is_set():
            os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()
    return finished


def _run(main: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BaseException:  # noqa: BLE001 - printed as the client's own traceback would be
        traceback.print_exc()
        return 1


def _work(conn: socket.socket, request: dict, fds: list[int]) -> int:
    os.setsid()  # signals reach the worker once, through its client
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
    _adopt_streams(fds)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    module, _, function = request["entry"].partition(":")
    # To a library that starts more processes like this one (Lightning's ddp launcher runs
    # `python -m <__main__'s module> <argv>`), the worker is the command its client stands for.
    sys.modules["__main__"].__spec__ = importlib.util.find_spec(module)
    sys.argv = [sys.modules["__main__"].__spec__.origin, *request["argv"]]
    _send_message(conn, {"pid": os.getpid()})
    finished = _die_with_client(conn)

    status = _run(getattr(importlib.import_module(module), function), request["argv"])
    sys.stdout.flush()
    sys.stderr.flush()
    finished.set()
    _send_message(conn, {"status": status})
    return status


# --- the server -----------------------------------------------------------------------------


def import_libraries() -> None:
    """Import LIBRARIES; ``make install`` runs it once so that their bytecode is compiled."""
    for name in LIBRARIES:
        _import(name)


def _import(name: str) -> None:
    # albumentations asks PyPI for a newer version as it is imported, unless told not to
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    importlib.import_module(name)


def _import_later(name: str) -> None:
    """A library imported between requests: one that fails is left to the stages that need
    it, which import it themselves and report the error; the server serves on."""
    try:
        _import(name)
    except Exception as exc:  # noqa: BLE001 - any error of a third-party import
        print(
            f"dlpipe.preload: importing {name} failed ({exc}); stages import it themselves", file=sys.stderr
        )


def _map_packages() -> None:
    # MLflow maps every installed package to its modules (3-4 s of scanning dist-info files)
    # each time a model is logged in a new process; mapped here, the workers inherit the map.
    from mlflow.utils import requirements_utils

    requirements_utils._init_modules_to_packages_map()


def _list_torchlib_functions() -> None:
    # torch's ONNX exporter asks onnxscript for its torchlib functions on every export, and
    # onnxscript rebuilds the signatures of all 497 from their source (0.7-1.1 s of every export
    # stage). They are the installed package's, the same for every export: listed once here
    # (in the module torch reads them from), the workers inherit the list.
    from torch.onnx._internal._lazy_import import onnxscript_apis

    apis = importlib.import_module(onnxscript_apis._name)
    apis.get_torchlib_ops = functools.cache(apis.get_torchlib_ops)
    apis.get_torchlib_ops()


# What the first stages (split, augment) import: the server serves once these are in, and
# imports the rest between requests, while those stages run on the other core (the first
# stage of a `make run` waited 16 s for all of LIBRARIES).
SERVED_AFTER = LIBRARIES[: LIBRARIES.index("sklearn.model_selection") + 1]


class _Workers:
    """The running workers, reaped as they end, each reported with its wall time."""

    def __init__(self) -> None:
        self.running: dict[int, tuple[str, float]] = {}
        self.served = 0

    def start(self, conn: socket.socket, listener: socket.socket) -> None:
        try:
            request, fds = _receive_message(conn, _STREAMS)
        except (ConnectionError, ValueError, OSError):
            return  # a client that left before asking
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the server loop
            listener.close()
            status = 1
            try:
                status = _work(conn, request, fds)
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
            finally:
                os._exit(status)
        for fd in fds:
            os.close(fd)
        self.running[pid] = (" ".join(request["argv"]), time.monotonic())
        self.served += 1

    def reap(self) -> None:
        """Report the workers that ended (by pid: a wait for any child would take the command's status)."""
        for pid in list(self.running):
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            stage, started = self.running.pop(pid)
            print(
                f"dlpipe.preload: {stage} took {time.monotonic() - started:.1f} s "
                f"(exit {os.waitstatus_to_exitcode(wait_status)})",
                file=sys.stderr,
                flush=True,
            )


def _serve(listener: socket.socket, command: subprocess.Popen, pending: list[Callable[[], object]]) -> int:
    """Fork a worker per connection until the command exits, running the ``pending`` preloads
    one at a time while no connection waits (never during a fork: a worker is a copy of the
    server between two imports); returns how many were served."""
    workers = _Workers()
    while command.poll() is None:
        ready, _, _ = select.select([listener], [], [], 0 if pending else 0.2)
        workers.reap()
        if ready:
            conn, _ = listener.accept()
            with conn:
                workers.start(conn, listener)
        elif pending:
            pending.pop(0)()
    workers.reap()
    return workers.served


def through_dvc_files(command: list[str]) -> list[str]:
    """``dvc ARG...`` or ``PYTHON -m dvc ARG...`` as DVC run by ``dlpipe.dvc_files``, which
    writes dvc.lock a stage at a time; any other command as it is."""
    if command and Path(command[0]).name == "dvc":
        args = command[1:]
    elif command[1:3] == ["-m", "dvc"]:
        args = command[3:]
    else:
        return command
    return [sys.executable, "-m", "dlpipe.dvc_files", *args]


def run(command: list[str]) -> int:
    """Run ``command`` with a preload server announced in its environment; its exit status."""
    command = through_dvc_files(command)
    with tempfile.TemporaryDirectory(prefix="dlpipe-preload-") as folder:
        path = str(Path(folder, "socket"))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)  # stages that connect before the imports end wait in the backlog
        try:
            process = subprocess.Popen(command, env={**os.environ, ENV: path})
        except OSError as exc:
            print(f"dlpipe.preload: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
            return 127
        signal.signal(signal.SIGTERM, lambda signum, _frame: process.send_signal(signum))
        try:
            for name in SERVED_AFTER:
                _import(name)
            later = [lambda name=name: _import_later(name) for name in LIBRARIES[len(SERVED_AFTER) :]]
            served = _serve(listener, process, [*later, _map_packages, _list_torchlib_functions])
        except KeyboardInterrupt:  # the command got the same Ctrl-C: let it finish its way
            served = None
        finally:
            listener.close()
        status = process.wait()
    if served is not None:
        print(f"dlpipe.preload: {served} stage(s) ran in preloaded workers", file=sys.stderr)
    return status


def cli() -> int:
    command = sys.argv[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("usage: python -m dlpipe.preload [--] COMMAND [ARG...]   (e.g. dvc repro)", file=sys.stderr)
        return 2
    return run(command)


if __name__ == "__main__":
    sys.exit(cli())
