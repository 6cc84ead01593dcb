"""dlpipe.dvc_files: DVC's command line writing dvc.lock a stage at a time, byte for byte what
DVC writes, without parsing again the lock it wrote itself."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.utils.serialize import _yaml

from conftest import dvc_env
from dlpipe import dvc_files
from dlpipe.preload import through_dvc_files

# A chain of stages, each with params and the output of the one before: entries of several sizes.
PIPELINE = {
    "stages": {
        "first": {"cmd": "echo one > first.txt", "params": ["alpha"], "outs": ["first.txt"]},
        "second": {
            "cmd": "cat first.txt > second.txt && echo two >> second.txt",
            "deps": ["first.txt"],
            "params": ["beta"],
            "outs": ["second.txt"],
        },
        "third": {
            "cmd": "cat second.txt > third.txt",
            "deps": ["second.txt"],
            "params": ["alpha", "gamma"],
            "outs": ["third.txt"],
        },
        "fourth": {"cmd": "echo four > fourth.txt", "params": ["gamma.depth"], "outs": ["fourth.txt"]},
    }
}


def _project(root: Path, beta: float) -> None:
    root.mkdir()
    (root / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    params = {"alpha": 1, "beta": beta, "gamma": {"depth": 3, "rate": 1e-08, "name": "x: y"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(command, cwd=root, env=dvc_env(root), check=True)


def _repro(root: Path, module: str) -> None:
    env = dvc_env(root) | {"PYTHONPATH": str(Path(dvc_files.__file__).parents[1])}
    subprocess.run([sys.executable, "-m", module, "repro", "-q"], cwd=root, env=env, check=True)


@pytest.mark.slow
def test_dvc_repro_through_dvc_files_writes_the_lock_dvc_writes(tmp_path: Path):
    ours, dvcs = tmp_path / "ours", tmp_path / "dvc"
    for root in (ours, dvcs):
        _project(root, beta=0.5)
    _repro(ours, "dlpipe.dvc_files")
    _repro(dvcs, "dvc")
    assert (ours / "dvc.lock").read_bytes() == (dvcs / "dvc.lock").read_bytes()
    for root in (ours, dvcs):  # second and third run again: entries in the middle change
        (root / "params.yaml").write_text((root / "params.yaml").read_text().replace("0.5", "0.25"))
    _repro(ours, "dlpipe.dvc_files")
    _repro(dvcs, "dvc")
    assert "beta: 0.25" in (ours / "dvc.lock").read_text()
    assert (ours / "dvc.lock").read_bytes() == (dvcs / "dvc.lock").read_bytes()


def _entry(md5: str) -> dict:
    return {"cmd": "true", "outs": [{"path": "out", "hash": "md5", "md5": md5, "size": 1}]}


def _dvc_text(data: dict) -> str:
    stream = io.StringIO()
    _yaml._dump(data, stream)
    return stream.getvalue()


def test_a_lock_it_wrote_is_not_parsed_again_and_one_changed_elsewhere_is(tmp_path: Path, monkeypatch):
    path = str(tmp_path / "dvc.lock")
    parses = []
    parse = _yaml.parse_yaml_for_update
    monkeypatch.setattr(_yaml, "parse_yaml_for_update", lambda text, p: parses.append(p) or parse(text, p))
    with dvc_files.modify_lock(path) as data:
        data.update({"schema": "2.0", "stages": {"a": _entry("1")}})
    for name, md5 in (("b", "2"), ("a", "3")):  # a new entry, then the first one changed
        with dvc_files.modify_lock(path) as data:
            data["stages"][name] = _entry(md5)
    assert parses == []
    expected = {"schema": "2.0", "stages": {"a": _entry("3"), "b": _entry("2")}}
    assert Path(path).read_text() == _dvc_text(expected)
    Path(path).write_text(Path(path).read_text().replace("md5: '2'", "md5: '4'"))  # another writer
    with dvc_files.modify_lock(path) as data:
        assert data["stages"]["b"]["outs"][0]["md5"] == "4"
    assert parses == [path]


def test_entries_that_share_an_object_are_written_whole_by_dvc_with_its_anchor(tmp_path: Path):
    path = tmp_path / "dvc.lock"
    shared = [{"path": "out", "md5": "1"}]
    with dvc_files.modify_lock(str(path)) as data:
        data.update({"schema": "2.0", "stages": {"a": {"outs": shared}, "b": {"outs": shared}}})
    assert path.read_text() == _dvc_text(data)
    assert "&id001" in path.read_text()


@pytest.mark.parametrize(
    "command, expected",
    [
        (["dvc", "repro"], [sys.executable, "-m", "dlpipe.dvc_files", "repro"]),
        (["/venv/bin/dvc", "exp", "run"], [sys.executable, "-m", "dlpipe.dvc_files", "exp", "run"]),
        (["python3", "-m", "dvc", "repro", "x"], [sys.executable, "-m", "dlpipe.dvc_files", "repro", "x"]),
        (["make", "dvc"], ["make", "dvc"]),
    ],
)
def test_the_preloader_runs_dvc_through_dvc_files(command, expected):
    assert through_dvc_files(command) == expected


def test_dvc_parses_a_params_text_once_and_each_caller_gets_its_own_copy(tmp_path: Path, monkeypatch):
    import dvc.dvcfile
    import dvc.utils.serialize
    from dvc.fs import LocalFileSystem
    from dvc.utils.serialize import YAMLFileCorruptedError

    for module in (_yaml, dvc.utils.serialize):  # restored after the test
        monkeypatch.setattr(module, "parse_yaml", module.parse_yaml)
    monkeypatch.setattr(dvc.dvcfile, "modify_yaml", dvc.dvcfile.modify_yaml)
    parses, parse = [], dvc_files._dvc_parse_yaml
    monkeypatch.setattr(dvc_files, "_dvc_parse_yaml", lambda *args: parses.append(args) or parse(*args))
    dvc_files._parsed.cache_clear()
    dvc_files.install()
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  lr: 0.1\n")
    first = dvc.utils.serialize.load_path(str(params), LocalFileSystem())
    first["train"]["lr"] = 9
    assert dvc.utils.serialize.load_path(str(params), LocalFileSystem()) == {"train": {"lr": 0.1}}
    params.write_text("train:\n  lr: 0.2\n")
    assert dvc.utils.serialize.load_path(str(params), LocalFileSystem()) == {"train": {"lr": 0.2}}
    assert len(parses) == 2
    params.write_text("train: [\n")
    # DVC names the file relative to the working directory
    with pytest.raises(YAMLFileCorruptedError, match=rf"{params.parent.name}/params\.yaml'.*corrupted"):
        dvc.utils.serialize.load_path(str(params), LocalFileSystem())
