"""``python -m dlpipe.dvc_files ARG...``: DVC's command line, parsing and writing its files as they change.

After every stage DVC parses the whole dvc.lock with ruamel's round-trip parser and dumps it
whole again (``Lockfile.dump_stages`` in dvc/dvcfile.py; DVC's issue 10629), so a stage's
bookkeeping grows with the stages before it: about 93 s of an 82-stage ``make run`` on 2
cores. This process keeps the lock as it last wrote it, with each stage entry's text: while
the file still holds that text it is not parsed again, and only the entries DVC changed are
dumped, each with DVC's own dumper, so the file is the one DVC would write. A lock this process
did not write is parsed DVC's way; one that is more than a schema and stages (DVC's datasets),
or whose entries share an object (which ruamel writes as an anchor), is written DVC's way.

DVC also parses params.yaml, with ruamel's pure-Python parser, for each params dependency of
each stage, about 7 times a stage; here each text is parsed once and handed out as a copy.

The preloader (``python -m dlpipe.preload dvc ...``) runs DVC through this module.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dvc.utils.serialize import _yaml

LOCK_NAME = "dvc.lock"
_dvc_parse_yaml = _yaml.parse_yaml
_STAGES_LINE = "stages:\n"


@dataclass
class _Entry:
    """A stage's entry as last dumped: its value's shape, its text and its containers."""

    shape: tuple
    text: str
    containers: set[int]


@dataclass
class _Written:
    """dvc.lock as this process last wrote it (its text None while it did not exist)."""

    text: str | None
    data: Any
    entries: dict[str, _Entry] = field(default_factory=dict)


_written: dict[str, _Written] = {}


def _shape(value: Any) -> tuple:
    """``value`` with its types and its keys' order, which the text depends on."""
    if isinstance(value, dict):
        return type(value), tuple((key, _shape(item)) for key, item in value.items())
    if isinstance(value, list):
        return type(value), tuple(_shape(item) for item in value)
    return type(value), value


def _containers(value: Any) -> set[int]:
    """The ids of the mappings and lists in ``value``: ruamel anchors one met twice."""
    found, todo = set(), [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            found.add(id(item))
            todo.extend(item.values())
        elif isinstance(item, list):
            found.add(id(item))
            todo.extend(item)
    return found


def _dumped(name: str, value: Any) -> _Entry:
    """One entry as DVC's dumper writes it under ``stages:``."""
    stream = io.StringIO()
    _yaml._dump({"stages": {name: value}}, stream)
    return _Entry(_shape(value), stream.getvalue().removeprefix(_STAGES_LINE), _containers(value))


def _compose(data: Any, entries: dict[str, _Entry]) -> str | None:
    """The lock's text from its entries' (dumping those DVC changed), or None where DVC's
    dumper must write it whole."""
    if list(data) != ["schema", "stages"] or not data["stages"]:
        return None
    texts, seen, shared = [], set(), False
    for name, value in data["stages"].items():
        entry = entries.get(name)
        if entry is None or entry.shape != _shape(value):
            entry = entries[name] = _dumped(name, value)
        texts.append(entry.text)
        shared = shared or not seen.isdisjoint(entry.containers)
        seen |= entry.containers
    if shared:
        return None
    head = io.StringIO()
    _yaml._dump({"schema": data["schema"]}, head)
    return head.getvalue() + _STAGES_LINE + "".join(texts)


@contextlib.contextmanager
def modify_lock(path: str, fs: Any = None) -> Iterator[Any]:
    """DVC's ``modify_yaml`` for dvc.lock, from the text this process last wrote."""
    key = os.path.abspath(path)
    exists = fs.exists(os.fspath(path)) if fs else os.path.exists(path)
    on_disk = None
    if exists:
        with fs.open(path, encoding="utf-8") if fs else open(path, encoding="utf-8") as stream:
            on_disk = stream.read()
    written = _written.pop(key, None)
    if written is None or written.text != on_disk:
        data = _yaml.parse_yaml_for_update(on_disk, path) if on_disk is not None else {}
        written = _Written(on_disk, data)
    yield written.data
    text = _compose(written.data, written.entries)
    with fs.open(path, "w+", encoding="utf-8") if fs else open(path, "w+", encoding="utf-8") as stream:
        if text is None:
            _yaml._dump(written.data, stream)
        else:
            stream.write(text)
    if text is not None:
        written.text = text
        _written[key] = written


def _modify_yaml(path: str, fs: Any = None):
    """dvc.lock's way for dvc.lock, DVC's for every other file."""
    if os.path.basename(path) == LOCK_NAME:
        return modify_lock(path, fs)
    return _yaml.modify_yaml(path, fs)


@functools.lru_cache(maxsize=8)
def _parsed(text: str, path: str) -> Any:
    return _dvc_parse_yaml(text, path)


def _parse_yaml(text: str, path: str, typ: str = "safe") -> Any:
    """DVC's ``parse_yaml``, a text parsed once: a copy, which the caller may change."""
    if typ != "safe":
        return _dvc_parse_yaml(text, path, typ)
    return copy.deepcopy(_parsed(text, path))


def install() -> None:
    """Route dvcfile's writes of dvc.lock through ``modify_lock``, and DVC's safe parses of YAML
    (params files, dvc.yaml, dvc.lock) through ``_parse_yaml``."""
    import dvc.dvcfile
    import dvc.utils.serialize

    dvc.dvcfile.modify_yaml = _modify_yaml
    for module in (_yaml, dvc.utils.serialize):
        module.parse_yaml = _parse_yaml


def main(argv: list[str]) -> int:
    from dvc.cli import main as dvc_main

    install()
    return dvc_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
