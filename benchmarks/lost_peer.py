"""How fast a ddp job ends when one of its processes dies or stops answering, at the shipped
train.peer_timeout.

Two single-process torchrun "nodes" on 127.0.0.1 train lenet5 in a copy of the current
project's params.yaml and data (split and augment done); once node 0 has finished its
second epoch, node 1's training process gets SIGKILL (dies) or SIGSTOP (silent). Measured:
seconds until node 0's torchrun exits, its exit status, and node 0's one-line message.
Prints a table and writes benchmarks/results/lost_peer.json.

    dvc repro augment@classify
    .venv/bin/python benchmarks/lost_peer.py
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from throughput import report

RESULTS = Path(__file__).parent / "results" / "lost_peer.json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node(workdir: Path, rank: int, port: int) -> subprocess.Popen:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    command = [
        str(Path(sys.executable).parent / "torchrun"),
        *("--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(rank)),
        *("--master-addr", "127.0.0.1", "--master-port", str(port)),
        *("-m", "dlpipe", "train", "lenet5"),
    ]
    log = open(workdir / f"node{rank}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)


def measured(workdir: Path, signum: signal.Signals) -> dict:
    shutil.rmtree(workdir / ".dlpipe", ignore_errors=True)
    port = _free_port()
    nodes = [_node(workdir, rank, port) for rank in (0, 1)]
    log = workdir / "node0.log"
    while log.read_text().count("\nepoch ") < 2:
        time.sleep(0.2)
    (worker,) = Path(f"/proc/{nodes[1].pid}/task/{nodes[1].pid}/children").read_text().split()
    start = time.monotonic()
    os.kill(int(worker), signum)
    status = nodes[0].wait(timeout=600)
    seconds = time.monotonic() - start
    if signum == signal.SIGSTOP:  # still there, stopped
        os.kill(int(worker), signal.SIGKILL)
    for node in nodes:
        node.kill()
        node.wait()
    (line,) = [line for line in log.read_text().splitlines() if "lost a peer" in line]
    return {"peer": signum.name, "seconds": round(seconds, 1), "exit": status, "message": line[:90]}


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        params = yaml.safe_load(Path("params.yaml").read_text())
        params["train"].update(strategy="ddp", devices=1, num_nodes=2)
        lenet5 = params["models"]["lenet5"] or {}
        lenet5["train"] = {**(lenet5.get("train") or {}), "epochs": 400, "steps": None}  # long enough
        params["models"]["lenet5"] = lenet5
        (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        for folder in ("data", "reports/classify"):
            shutil.copytree(folder, workdir / folder)
        for signum in (signal.SIGKILL, signal.SIGSTOP):
            rows.append(measured(workdir, signum))
    print(f"train.peer_timeout: {params['train']['peer_timeout']} s")
    report(rows, ["peer", "seconds", "exit", "message"], RESULTS)


if __name__ == "__main__":
    main()
