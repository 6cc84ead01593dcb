"""params.yaml fuzzed from the settings' JSON schema (hypothesis with hypothesis-jsonschema).

Valid files: the shipped params with one to four settings redrawn from their own JSON schema
(bounds, types and choices as pydantic states them): every one is accepted. Broken files: a
valid one with one fault (a wrong type, a value out of range, an unknown or a missing key, an
empty section, a YAML syntax error): every one stops the command line with exit 2 and one line
naming the key (or the YAML line), no traceback, and no byte changed under data/, models/ or
reports/.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from conftest import REPO
from dlpipe.__main__ import main
from dlpipe.config import Params

SCHEMA = Params.model_json_schema()
SHIPPED = yaml.safe_load((REPO / "params.yaml").read_text())

# Keys tied to another key by a rule the JSON schema cannot state: redrawn alone they would
# break it (ratios that sum to 1, one of epochs and steps, a source that needs a path, a
# warm-up that onecycle forbids, mixup or manifold mixup, several nodes only with ddp, the
# least and most of a range).
TIED = {
    *(
        f"{data}.ratios.{split}"
        for data in ("data", "localize.data", "landmarks.data", "detect.data", "verify.data", "clips.data")
        for split in ("train", "val", "test")
    ),
    "data.source",
    "localize.data.source",
    "landmarks.data.source",
    "detect.data.source",
    "verify.data.source",
    "clips.data.source",
    "clips.data.frames",  # the moving digit's path fits the frame
    "clips.data.image_size",
    "clips.data.speed",
    *(f"detect.data.side_share.{i}" for i in range(2)),
    "train.epochs",
    "train.steps",
    "train.schedule",
    "train.warmup_epochs",
    "train.warmup_steps",
    "train.mixup_alpha",
    "train.manifold_mixup_alpha",
    "train.num_nodes",
}


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _free(schema: dict) -> bool:
    """A number, a boolean or a choice: its schema says all there is to say about it."""
    kinds = [schema, *schema.get("anyOf", [])]
    return any("enum" in kind or kind.get("type") in {"integer", "number", "boolean"} for kind in kinds)


def _leaves(schema: dict, value: Any, key: str = "") -> dict[str, dict]:
    """Dotted key -> JSON schema of every setting of the shipped file below sections."""
    schema = _resolve(schema)
    if isinstance(value, dict) and "properties" in schema:
        found = {}
        for name, inner in value.items():
            found.update(_leaves(schema["properties"][name], inner, f"{key}{name}."))
        return found
    return {key[:-1]: {**schema, "$defs": SCHEMA["$defs"]}}


LEAVES = _leaves(SCHEMA, SHIPPED)
FREE = sorted(key for key, schema in LEAVES.items() if _free(schema) and key not in TIED)
SECTIONS = sorted(SHIPPED)


def _set(params: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        params = params[part]
    params[last] = value


def _drop(params: dict, key: str) -> None:
    *parents, last = key.split(".")
    for part in parents:
        params = params[part]
    del params[last]


@st.composite
def valid_params(draw) -> dict:
    params = copy.deepcopy(SHIPPED)
    for key in draw(st.lists(st.sampled_from(FREE), min_size=1, max_size=4, unique=True)):
        _set(params, key, draw(from_schema(LEAVES[key])))
    return params


def _wrong_type(schema: dict) -> Any:
    kinds = {kind.get("type") for kind in (schema, *schema.get("anyOf", []))}
    return ["a", "list"] if "string" in kinds else "not a number"


def _out_of_range(schema: dict) -> Any | None:
    for kind in (schema, *schema.get("anyOf", [])):
        if "minimum" in kind:
            return kind["minimum"] - 1
        if "exclusiveMinimum" in kind:
            return kind["exclusiveMinimum"] - 1
        if "maximum" in kind:
            return kind["maximum"] + 1
        if "exclusiveMaximum" in kind:
            return kind["exclusiveMaximum"] + 1
        if "enum" in kind:
            return "none of these"
    return None


BOUNDED = sorted(key for key in FREE if _out_of_range(LEAVES[key]) is not None)
REQUIRED = sorted(
    key for key in LEAVES if not key.startswith(("models", "localize.models", "landmarks.models"))
)


@st.composite
def broken_params(draw) -> tuple[str, str]:
    """(the file's text, what its one line must name)."""
    params = draw(valid_params())
    fault = draw(st.sampled_from(["type", "range", "unknown", "missing", "empty", "syntax"]))
    if fault == "type":
        key = draw(st.sampled_from(FREE))
        _set(params, key, _wrong_type(LEAVES[key]))
    elif fault == "range":
        key = draw(st.sampled_from(BOUNDED))
        _set(params, key, _out_of_range(LEAVES[key]))
    elif fault == "unknown":
        section = draw(st.sampled_from([s for s in SECTIONS if s not in {"models"}]))
        key = f"{section}.not_a_setting"
        _set(params, key, draw(st.integers()))
    elif fault == "missing":
        key = draw(st.sampled_from(REQUIRED))
        _drop(params, key)
    elif fault == "empty":
        key = draw(st.sampled_from(SECTIONS))
        params[key] = draw(st.sampled_from([{}, None]))
    text = yaml.safe_dump(params, sort_keys=False)
    if fault == "syntax":
        lines = text.splitlines()
        line = draw(st.integers(0, len(lines) - 1))
        lines.insert(line, "\tno: tabs")  # YAML indents with spaces only
        return "\n".join(lines) + "\n", "not valid YAML at line"
    return text, key


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with outputs a stage would replace, whose bytes are watched."""
    monkeypatch.chdir(tmp_path)
    for output in ("data/classify/split/train.npz", "models/lenet5/model.pt", "reports/leaderboard.md"):
        (tmp_path / output).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / output).write_bytes(output.encode())
    return tmp_path


def _outputs(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.md5(path.read_bytes()).hexdigest()
        for folder in ("data", "models", "reports")
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def _run(argv: list[str]) -> tuple[int, str]:
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, errors.getvalue()


EXAMPLES = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@EXAMPLES
@given(params=valid_params())
def test_params_drawn_from_the_schema_are_accepted(folder, params):
    from dlpipe.config import load_params

    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    load_params()  # raises ConfigError, naming the key, where one is refused


@settings(EXAMPLES, max_examples=500)
@given(case=broken_params())
def test_a_broken_params_file_is_one_line_naming_the_key_and_nothing_written(folder, case):
    text, named = case
    (folder / "params.yaml").write_text(text)
    before = _outputs(folder)
    status, stderr = _run(["train", "lenet5"])  # a stage that would write models/ and reports/
    assert status == 2
    assert stderr.count("\n") == 1 and stderr.startswith("params.yaml: "), stderr
    assert named in stderr, stderr
    assert "Traceback" not in stderr
    assert _outputs(folder) == before
