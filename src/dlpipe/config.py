"""params.yaml as one typed object.

Every stage loads the whole file through :func:`load_params`, so a bad key or
value anywhere stops the pipeline before anything is written, with one line
naming the key (``params.yaml: train.lr must be > 0 (got -0.1)``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dlpipe.errors import ConfigError

PARAMS_FILE = Path("params.yaml")

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked strictly."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Ratios(Section):
    train: Annotated[float, Field(gt=0, lt=1)] = 0.6
    val: Annotated[float, Field(gt=0, lt=1)] = 0.2
    test: Annotated[float, Field(gt=0, lt=1)] = 0.2

    @model_validator(mode="after")
    def _sum_to_one(self) -> Ratios:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"must sum to 1 (got {total:g})")
        return self


class DataParams(Section):
    source: Literal["digits", "faces", "imagefolder"] = "digits"
    path: str | None = Field(default=None, validate_default=True)
    image_size: Annotated[int, Field(ge=8, le=1024)] = 32
    channels: Literal["auto", 1, 3] = "auto"
    ratios: Ratios = Ratios()
    seed: int = 42
    on_bad_image: Literal["error", "skip"] = "error"

    @field_validator("path")
    @classmethod
    def _path_for_imagefolder(cls, path: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("source") == "imagefolder" and not path:
            raise ValueError("is required when data.source is imagefolder")
        return path


class FlipParams(Section):
    p: Probability = 0.0


class CropParams(Section):
    p: Probability = 0.5
    padding: Annotated[int, Field(ge=1)] = 2


class RotateParams(Section):
    p: Probability = 0.5
    limit: Annotated[float, Field(gt=0, le=180)] = 10.0


class ColorShiftParams(Section):
    p: Probability = 0.0
    shift: Annotated[float, Field(gt=0, le=255)] = 20.0


class FancyPCAParams(Section):
    p: Probability = 0.0
    alpha: Annotated[float, Field(gt=0)] = 0.1


class AugmentParams(Section):
    copies: Annotated[int, Field(ge=0, le=50)] = 1
    seed: int = 42
    hflip: FlipParams = FlipParams()
    crop: CropParams = CropParams()
    rotate: RotateParams = RotateParams()
    color_shift: ColorShiftParams = ColorShiftParams()
    fancy_pca: FancyPCAParams = FancyPCAParams()
    preview_examples: Annotated[int, Field(ge=1, le=64)] = 8


class TrainParams(Section):
    seed: int = 42
    epochs: Annotated[int, Field(ge=1)] = 15
    batch_size: Annotated[int, Field(ge=1)] = 64
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw"
    lr: Annotated[float, Field(gt=0)] = 3e-3
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    weight_decay: Annotated[float, Field(ge=0)] = 5e-4
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.05
    schedule: Literal["constant", "onecycle"] = "onecycle"
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "64-true"] = "32-true"
    aux_loss_weight: Annotated[float, Field(ge=0)] = 0.3  # Inception's auxiliary classifiers
    init_from: str | None = None  # a model of this pipeline, or "torchvision:<weights>" from the cache
    freeze: Literal["none", "all_but_head"] | Annotated[int, Field(ge=0)] = "none"


ENTRY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"


class ModelSettings(Section):
    """One entry of ``models:``: which architecture, its options, and train overrides."""

    arch: str | None = None  # registry name; the entry's own name when omitted
    options: dict[str, Any] = Field(default_factory=dict)  # the builder's keywords: width, hidden...
    train: dict[str, Any] = Field(default_factory=dict)  # keys of the train section to override


class TransferParams(Section):
    """The transfer-learning demonstration: pretrain on some classes, fine-tune on others."""

    arch: str = "lenet5"
    source_classes: list[str] = Field(default_factory=list)  # empty: the first half of the classes
    target_classes: list[str] = Field(default_factory=list)  # empty: the other half
    target_examples_per_class: Annotated[int, Field(ge=1)] = 5
    freeze: Literal["none", "all_but_head"] | Annotated[int, Field(ge=0)] = "all_but_head"
    pretrain_epochs: Annotated[int, Field(ge=1)] = 8
    finetune_epochs: Annotated[int, Field(ge=1)] = 30

    @field_validator("arch")
    @classmethod
    def _known_architecture(cls, arch: str) -> str:
        from dlpipe.models.registry import ARCHITECTURES

        if arch not in ARCHITECTURES:
            raise ValueError(
                f"names an unknown architecture {arch!r} (known: {', '.join(sorted(ARCHITECTURES))})"
            )
        return arch


class EvaluateParams(Section):
    class_weights: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)

    @field_validator("class_weights", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads a digit class name such as `3: 10` as an int key.
        if isinstance(value, dict):
            return {str(key): weight for key, weight in value.items()}
        return value


class ExportParams(Section):
    max_abs_diff: Annotated[float, Field(gt=0)] = 1e-4
    latency_runs: Annotated[int, Field(ge=1)] = 100


class TrackingParams(Section):
    uri: str = "sqlite:///mlflow.db"
    experiment: Annotated[str, Field(min_length=1)] = "dlpipe"
    artifact_dir: Annotated[str, Field(min_length=1)] = "mlartifacts"
    registered_model_prefix: str = "dlpipe-"


class Params(Section):
    data: DataParams = DataParams()
    augment: AugmentParams = AugmentParams()
    models: Annotated[dict[str, ModelSettings], Field(min_length=1)] = {"lenet5": ModelSettings()}
    train: TrainParams = TrainParams()
    transfer: TransferParams = TransferParams()
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    tracking: TrackingParams = TrackingParams()

    @field_validator("models", mode="before")
    @classmethod
    def _entries_may_be_empty(cls, value: Any) -> Any:
        # `lenet5:` with nothing after it reads as None in YAML: an entry with no settings.
        if isinstance(value, dict):
            return {name: {} if settings is None else settings for name, settings in value.items()}
        return value

    @field_validator("models")
    @classmethod
    def _known_architectures(cls, models: dict[str, ModelSettings]) -> dict[str, ModelSettings]:
        from dlpipe.models.registry import ARCHITECTURES

        for name, settings in models.items():
            if not re.match(ENTRY_NAME, name):
                raise ValueError(f"has an entry name {name!r} unfit for a folder name")
            arch = settings.arch or name
            if arch not in ARCHITECTURES:
                known = ", ".join(sorted(ARCHITECTURES))
                raise ValueError(f"names an unknown architecture {arch!r} (known: {known})")
        return models

    def arch_of(self, name: str) -> str:
        return self.models[name].arch or name

    def train_for(self, name: str) -> TrainParams:
        """The shared train section with this entry's overrides applied."""
        return TrainParams.model_validate({**self.train.model_dump(), **self.models[name].train})


_COMPARISONS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


_TYPE_NAMES = {
    "int": "an integer",
    "int_parsing": "an integer",
    "float": "a number",
    "float_parsing": "a number",
    "string": "a string",
    "bool": "true or false",
    "dict": "a mapping",
    "list": "a list",
    "model": "a mapping",
    "model_attributes": "a mapping",
}


def _describe(error: dict[str, Any]) -> str:
    """One readable phrase for one pydantic error."""
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind in _COMPARISONS:
        bound = next(iter(ctx.values()))
        return f"must be {_COMPARISONS[kind]} {bound:g} (got {value!r})"
    if kind == "extra_forbidden":
        return "is not a known key"
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {value!r})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s) (got {value!r})"
    expected = _TYPE_NAMES.get(kind.rsplit("_", 1)[0], kind.split("_")[0])
    return f"must be {expected} (got {value!r})"


def format_validation_error(source: Path, exc: ValidationError, prefix: str = "") -> str:
    """The first error, as ``params.yaml: key.path must be ...``."""
    error = exc.errors()[0]
    # Union members add their own type name to the location; drop those.
    parts = [prefix] if prefix else []
    parts += [str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal["))]
    parts = [p for p in parts if p not in {"int", "str", "float", "bool"}]
    key = ".".join(parts)
    phrase = _describe(error)
    return f"{source}: {key} {phrase}" if key else f"{source}: {phrase}"


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml; raise ConfigError with a one-line message."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None
    for name in params.models:
        try:
            params.train_for(name)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(path, exc, prefix=f"models.{name}.train")) from None
    return params
