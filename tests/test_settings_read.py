"""A settings key exists only if code reads it.

Every field of every settings model in config.py (``Params`` and the models nested
in it, inside dicts, lists and optionals too) must be read somewhere in src/dlpipe
outside config.py: as an attribute (``train.lr``) or as a string literal (a key read
from a dumped dict, ``hparams["lr"]``, or a name built by ``getattr``). A field that
only config.py's validators look at does not count. Found by AST, so comments and
docstrings do not count either (a docstring is one long string, never a bare name).
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Iterator

from pydantic import BaseModel

from conftest import REPO
from dlpipe.config import Params

PACKAGE = REPO / "src" / "dlpipe"


def _models_in(annotation: object) -> Iterator[tuple[str, type[BaseModel]]]:
    """The pydantic models an annotation holds, with the path step to them ("" or ".*")."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield "", annotation
        return
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is dict:
        # dict[str, Model]: one entry per user-chosen key
        for inner, model in _models_in(arguments[1]):
            yield f".*{inner}", model
    else:  # list, Optional / Union, Annotated: the same path
        for argument in arguments:
            yield from _models_in(argument)


def settings_fields(model: type[BaseModel] = Params, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, field name) of every field of ``model`` and of the models nested in it."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = list(_models_in(field.annotation))
        if not nested or model is not Params:
            yield key, name
        for step, inner in nested:
            yield from settings_fields(inner, f"{key}{step}.")


def names_read() -> set[str]:
    """Attribute names and string literals of every module of src/dlpipe but config.py."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_the_walk_reaches_nested_sections_and_entries():
    keys = {key for key, _ in settings_fields()}
    assert {"train.lr", "train.early_stopping.monitor", "data.ratios.val", "augment.crop.padding"} <= keys
    assert {"models.*.arch", "tune.space.*.one_minus", "tracking.uri"} <= keys
    assert "train" not in keys  # a top-level section is not a key of its own


def test_every_settings_key_is_read_outside_config():
    read = names_read()
    unread = [key for key, name in settings_fields() if name not in read]
    assert not unread, f"settings keys no code reads: {', '.join(unread)}"
