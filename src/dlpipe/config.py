"""params.yaml as one typed object.

Every stage loads the whole file through :func:`load_params`, so a bad key or
value anywhere stops the pipeline before anything is written, with one line
naming the key (``params.yaml: train.lr must be > 0 (got -0.1)``: a ConfigError
names the key, the command line adds the file).
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
from dlpipe.paths import PARAMS_FILE
from dlpipe.tasks import FAMILIES

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked strictly, and every key
    is required: params.yaml is the one place a value is written (no second copy here to drift)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _path_required_for(*sources: str) -> Any:
    """A validator of a data section's ``path``: required when ``source`` reads the user's files."""

    def check(cls: type, path: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("source") in sources and not path:
            raise ValueError(f"is required when source is {info.data['source']}")
        return path

    return check


class Ratios(Section):
    train: Annotated[float, Field(gt=0, lt=1)]
    val: Annotated[float, Field(gt=0, lt=1)]
    test: Annotated[float, Field(gt=0, lt=1)]

    @model_validator(mode="after")
    def _sum_to_one(self) -> Ratios:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"must sum to 1 (got {total:g})")
        return self


class DataParams(Section):
    source: Literal["digits", "faces", "imagefolder"]
    path: str | None
    image_size: Annotated[int, Field(ge=8, le=1024)]
    channels: Literal["auto", 1, 3]
    ratios: Ratios
    seed: int
    on_bad_image: Literal["error", "skip"]
    train_dev: Annotated[float, Field(ge=0, lt=0.5)]  # share of the train split held out as train-dev

    _path_needed = field_validator("path")(_path_required_for("imagefolder"))


class FlipParams(Section):
    p: Probability


class CropParams(Section):
    p: Probability
    padding: Annotated[int, Field(ge=1)]


class RotateParams(Section):
    p: Probability
    limit: Annotated[float, Field(gt=0, le=180)]


class ColorShiftParams(Section):
    p: Probability
    shift: Annotated[float, Field(gt=0, le=255)]


class FancyPCAParams(Section):
    p: Probability
    alpha: Annotated[float, Field(gt=0)]


class AugmentParams(Section):
    copies: Annotated[int, Field(ge=0, le=50)]
    seed: int
    hflip: FlipParams
    crop: CropParams
    rotate: RotateParams
    color_shift: ColorShiftParams
    fancy_pca: FancyPCAParams
    preview_examples: Annotated[int, Field(ge=1, le=64)]


def _keys_as_text_inner(value: dict) -> dict:
    return {str(key): inner for key, inner in value.items()}


class EarlyStoppingParams(Section):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (0: never)."""

    # "primary": the validation metric of the model's primary metric; otherwise val_loss or one of
    # the validation metrics of the model's family (checked per model)
    monitor: str
    patience: Annotated[int, Field(ge=0)]
    min_delta: Annotated[float, Field(ge=0)]


# The two ways to say how long a model trains: one of them per section, the other null.
LENGTH_KEYS = ("epochs", "steps")


class TrainParams(Section):
    seed: int
    epochs: Annotated[int, Field(ge=1)] | None  # passes over the (augmented) training split...
    steps: Annotated[int, Field(ge=1)] | None  # ...or optimiser steps, rounded up to whole epochs
    batch_size: Annotated[int, Field(ge=1)]
    # Optimiser: sgd (momentum 0 is plain mini-batch SGD), rmsprop (beta2 decays the squared
    # gradients), adam and adamw (beta1, beta2).
    optimizer: Literal["sgd", "rmsprop", "adam", "adamw"]
    lr: Annotated[float, Field(gt=0)]
    momentum: Annotated[float, Field(ge=0, lt=1)]
    nesterov: bool
    beta1: Annotated[float, Field(ge=0, lt=1)]
    beta2: Annotated[float, Field(ge=0, lt=1)]
    eps: Annotated[float, Field(gt=0)]
    # Learning-rate schedule, per step: onecycle, or a warm-up then a decay by epoch.
    schedule: Literal["constant", "onecycle", "inverse_time", "exponential", "step", "cosine"]
    decay_rate: Annotated[float, Field(ge=0)]  # inverse_time: lr0 / (1 + decay_rate * epoch)
    gamma: Annotated[float, Field(gt=0, le=1)]  # exponential: lr0 * gamma**epoch; step: per step
    step_epochs: Annotated[int, Field(ge=1)]  # step: multiply by gamma every step_epochs
    warmup_epochs: Annotated[int, Field(ge=0)]  # linear warm-up before the schedule...
    warmup_steps: Annotated[int, Field(ge=0)]  # ...counted in epochs or in steps
    # Regularisation.
    weight_decay: Annotated[float, Field(ge=0)]  # L2 as the optimiser's weight decay
    l2_penalty: Annotated[float, Field(ge=0)]  # lambda of the cost term lambda/(2m) * sum ||W||^2
    keep_prob: Annotated[float, Field(gt=0, le=1)] | None  # every dropout layer; null: the model's own
    label_smoothing: Annotated[float, Field(ge=0, lt=1)]
    gradient_clip: Annotated[float, Field(gt=0)] | None  # max global gradient norm
    mixup_alpha: Annotated[float, Field(ge=0)]  # lambda ~ Beta(alpha, alpha); 0: off
    manifold_mixup_alpha: Annotated[float, Field(ge=0)]  # the same, at a random hidden layer
    early_stopping: EarlyStoppingParams
    loss_smoothing: Annotated[float, Field(ge=0, lt=1)]  # beta of the smoothed training loss
    accelerator: str
    devices: int | str  # per node
    # ddp: one process per device, each training on its share of every batch; auto: Lightning's
    # choice (one device, or ddp over several)
    strategy: Literal["auto", "ddp"]
    num_nodes: Annotated[int, Field(ge=1)]  # machines of a ddp job (started with torchrun)
    peer_timeout: Annotated[float, Field(gt=0)]  # seconds a ddp process waits for another
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "64-true"]
    memory_format: Literal["channels_last", "contiguous"]  # of conv weights and batches
    aux_loss_weight: Annotated[float, Field(ge=0)]  # Inception's auxiliary classifiers
    init_from: str | None  # a model of this pipeline, or "torchvision:<weights>" from the cache
    freeze: Literal["none", "all_but_head"] | Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _compatible(self) -> TrainParams:
        if (self.epochs is None) == (self.steps is None):
            raise ValueError("must set one of epochs and steps, and the other to null")
        if self.warmup_epochs and self.warmup_steps:
            raise ValueError("sets both warmup_epochs and warmup_steps; set one")
        if self.schedule == "onecycle" and (self.warmup_epochs or self.warmup_steps):
            raise ValueError(
                "sets a warm-up with schedule onecycle, which warms up by itself; pick another schedule"
            )
        if self.mixup_alpha and self.manifold_mixup_alpha:
            raise ValueError("sets both mixup_alpha and manifold_mixup_alpha; set one")
        if self.num_nodes > 1 and self.strategy != "ddp":
            raise ValueError(f"sets num_nodes {self.num_nodes} with strategy {self.strategy}; use ddp")
        return self

    def in_one_process(self) -> TrainParams:
        """These settings on one device: tuning trials (tune.workers run them in parallel) and
        transfer's few-example fits train so, whatever ``strategy`` says."""
        return self.model_copy(update={"strategy": "auto", "devices": 1, "num_nodes": 1})

    def epochs_for(self, batches_per_epoch: int) -> int:
        """Whole epochs to train: ``epochs``, or as many as ``steps`` optimiser steps need.

        In steps, a recipe carries over between data sets: twice the images, half the epochs,
        the same number of updates (and the same time per model).
        """
        return self.epochs or math.ceil(self.steps / batches_per_epoch)


MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"


class ModelSettings(Section):
    """One model of a family's ``models``: which architecture, its options, and train overrides."""

    arch: str | None = None  # registry name; the model's own name when omitted
    options: dict[str, Any] = Field(default_factory=dict)  # the builder's keywords: width, hidden...
    train: dict[str, Any] = Field(default_factory=dict)  # keys of the train section to override


class TransferParams(Section):
    """The transfer-learning demonstration: pretrain on some classes, fine-tune on others."""

    arch: str
    source_classes: list[str]  # empty: the first half of the classes
    target_classes: list[str]  # empty: the other half
    target_examples_per_class: Annotated[int, Field(ge=1)]
    freeze: Literal["none", "all_but_head"] | Annotated[int, Field(ge=0)]
    pretrain_epochs: Annotated[int, Field(ge=1)]
    finetune_epochs: Annotated[int, Field(ge=1)]

    @field_validator("arch")
    @classmethod
    def _known_architecture(cls, arch: str) -> str:
        from dlpipe.models.registry import ARCHITECTURES

        if arch not in ARCHITECTURES:
            raise ValueError(
                f"names an unknown architecture {arch!r} (known: {', '.join(sorted(ARCHITECTURES))})"
            )
        return arch


# evaluate.primary_metric -> (the validation metric Lightning monitors, "max" or "min")
PRIMARY_MONITORS = FAMILIES["classify"].monitors


class EvaluateParams(Section):
    class_weights: dict[str, Annotated[float, Field(ge=0)]]
    # cost of predicting the inner class for the outer one; unnamed pairs cost 1 (0 when right)
    cost_matrix: dict[str, dict[str, Annotated[float, Field(ge=0)]]]
    # the single-number metric: checkpointing, early stopping (monitor primary), leaderboard, tuning
    primary_metric: Literal["accuracy", "weighted_error", "cost_error"]
    bayes_error: Annotated[float, Field(ge=0, le=1)] | None  # human-level proxy; null: 0
    diagnosis_tolerance: Annotated[float, Field(ge=0, le=1)]  # smaller gaps: none dominates
    diagnosis_train_examples: Annotated[int, Field(ge=1)]  # training error: on this many at most
    calibration_bins: Annotated[int, Field(ge=2, le=100)]
    worst_examples: Annotated[int, Field(ge=1, le=100)]  # misclassified test images in the grid
    tta: Literal["none", "flip", "ten_crop"]  # test-time augmentation
    tta_padding: Annotated[int, Field(ge=1)]  # ten_crop: pixels of (reflected) border to crop from

    @field_validator("class_weights", "cost_matrix", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads a digit class name such as `3: 10` as an int key.
        if isinstance(value, dict):
            return {
                str(key): _keys_as_text_inner(inner) if isinstance(inner, dict) else inner
                for key, inner in value.items()
            }
        return value

    @property
    def monitor(self) -> tuple[str, str]:
        """The validation metric that stands for ``primary_metric``, and its direction."""
        return PRIMARY_MONITORS[self.primary_metric]


class LeaderboardParams(Section):
    ensemble: list[str]  # models whose averaged probabilities get a row


class ExportParams(Section):
    max_abs_diff: Annotated[float, Field(gt=0)]
    parity_examples: Annotated[int, Field(ge=1)]  # test images compared (the first of the split)
    latency_runs: Annotated[int, Field(ge=1)]


class SearchDimension(Section):
    """One entry of ``tune.space``: a params key and how to sample it.

    ``one_minus: true`` samples 1 - value, so that a log scale spreads
    momentum or beta1 over 0.9, 0.99, 0.999 evenly.
    """

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    one_minus: bool = False
    choices: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _bounds_or_choices(self) -> SearchDimension:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("needs choices: a categorical dimension lists its values")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"needs low and high: a {self.type} dimension has bounds")
        if not self.low < self.high:
            raise ValueError(f"low must be below high (got {self.low:g} and {self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"log: true needs low > 0 (got {self.low:g})")
        if self.type == "int" and self.one_minus:
            raise ValueError("one_minus applies to float dimensions only")
        return self


class TuneParams(Section):
    """``dlpipe tune``: an Optuna study over ``space`` for one model of ``models``."""

    model: str  # the model tuned by `dlpipe tune` without an argument
    models: list[str]  # models `dvc repro` tunes (tune@NAME); [] = none
    trials: Annotated[int, Field(ge=1)]
    timeout: Annotated[float, Field(gt=0)] | None  # seconds
    workers: Annotated[int, Field(ge=1)]
    storage: str  # any SQLAlchemy URL; DLPIPE_TUNE_STORAGE overrides
    epochs: Annotated[int, Field(ge=1)]  # per trial; the pruner sees every epoch
    seed: int
    pruner: Literal["median", "successive_halving", "hyperband", "none"]
    pruner_startup_trials: Annotated[int, Field(ge=0)]  # median: trials before any pruning
    pruner_warmup_epochs: Annotated[int, Field(ge=0)]  # median: epochs before a trial can be pruned
    heartbeat_seconds: Annotated[int, Field(ge=1)]  # a trial silent for grace_seconds...
    grace_seconds: Annotated[int, Field(ge=1)]  # ...is marked FAIL (its worker died)
    retries: Annotated[int, Field(ge=0)]  # a failed trial is retried this often
    space: dict[str, SearchDimension]

    @field_validator("space")
    @classmethod
    def _known_keys(cls, space: dict[str, SearchDimension]) -> dict[str, SearchDimension]:
        for key, dimension in space.items():
            section, _, name = key.partition(".")
            if key == "model":
                if dimension.type != "categorical":
                    raise ValueError("has model, which must be categorical: it chooses among models")
            elif section == "train":
                if name not in TrainParams.model_fields or name in _UNTUNABLE:
                    raise ValueError(f"has {key}, which is not a tunable key of the train section")
            elif section in FAMILY_SECTIONS:
                if name not in _family_settings(section):
                    raise ValueError(
                        f"has {key}, which is not a tunable key of {section} "
                        f"(tunable: {', '.join(_family_settings(section))})"
                    )
            elif section != "options" or not name:
                raise ValueError(
                    f"has {key}, which is not tunable: use train.<key>, options.<option>, "
                    "<family>.<key> or model"
                )
        return space


# The task families' own sections, whose scalar settings a study may sample (verify.margin,
# detect.box_weight...): a family-wide setting, applied to every trial's task.
FAMILY_SECTIONS = tuple(family for family in FAMILIES if family != "classify")  # classify's are top-level
_NOT_A_TASK_SETTING = {"data", "augment", "models", "primary_metric", "examples", "episodes"}


def _family_settings(section: str) -> list[str]:
    """The keys of a family's section its task reads (what a study may sample)."""
    fields = Params.model_fields[section].annotation.model_fields
    return [name for name in fields if name not in _NOT_A_TASK_SETTING]


_UNTUNABLE = {
    "accelerator",
    "devices",
    "strategy",
    "num_nodes",
    "peer_timeout",
    "precision",
    "memory_format",
    "init_from",
    "freeze",
    "early_stopping",
    *LENGTH_KEYS,  # the trial's length is tune.epochs: the pruner's resource
}


class TrackingParams(Section):
    uri: str
    experiment: Annotated[str, Field(min_length=1)]
    artifact_dir: Annotated[str, Field(min_length=1)]
    registered_model_prefix: str


def _nested_update(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        inner = merged.get(key)
        merged[key] = (
            _nested_update(inner, value) if isinstance(inner, dict) and isinstance(value, dict) else value
        )
    return merged


def with_train_overrides(train: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A train section (as a dict) with ``overrides`` applied, nested; a length in the overrides
    (``epochs`` or ``steps``) replaces the section's, whichever of the two it was."""
    if any(key in overrides for key in LENGTH_KEYS):
        train = {**train, **dict.fromkeys(LENGTH_KEYS)}
    return _nested_update(train, overrides)


def _models_may_be_empty(cls: type, value: Any) -> Any:
    # `lenet5:` with nothing after it reads as None in YAML: a model with no settings.
    if isinstance(value, dict):
        return {name: {} if settings is None else settings for name, settings in value.items()}
    return value


Models = Annotated[dict[str, ModelSettings], Field(min_length=1)]


class LocalizeData(Section):
    """Scenes of zero or one object: built-in (digits pasted on textures) or YOLO txt labels."""

    source: Literal["scenes", "yolo"]
    path: str | None  # yolo: classes.txt, images/, labels/
    images: Annotated[int, Field(ge=20)]  # scenes: how many to make
    image_size: Annotated[int, Field(ge=16, le=1024)]
    empty_share: Annotated[float, Field(ge=0, lt=1)]  # scenes: share without an object
    ratios: Ratios
    seed: int

    _path_needed = field_validator("path")(_path_required_for("yolo"))


class LandmarksData(Section):
    """Images with K ordered points: built-in cards (four corners) or a CSV of points."""

    source: Literal["cards", "csv"]
    path: str | None  # csv: image,x1,y1,...,xK,yK
    images: Annotated[int, Field(ge=20)]  # cards: how many to make
    image_size: Annotated[int, Field(ge=16, le=1024)]
    ratios: Ratios
    seed: int

    _path_needed = field_validator("path")(_path_required_for("csv"))


class DetectData(Section):
    """Scenes of several objects: built-in (digits pasted on textures), a YOLO folder or a COCO file."""

    source: Literal["scenes", "yolo", "coco"]
    path: str | None  # yolo: classes.txt, images/, labels/; coco: the JSON file
    images: Annotated[int, Field(ge=20)]  # scenes: how many to make
    image_size: Annotated[int, Field(ge=16, le=1024)]
    max_objects: Annotated[int, Field(ge=1, le=32)]  # scenes: 1 to this many digits each
    # scenes: a digit's longer side, as shares of the image side (least, most)
    side_share: Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=2, max_length=2)]
    max_overlap: Annotated[float, Field(ge=0, le=1)]  # scenes: IoU a new digit may have with one placed
    ratios: Ratios
    seed: int

    _path_needed = field_validator("path")(_path_required_for("yolo", "coco"))

    @field_validator("side_share")
    @classmethod
    def _ascending(cls, value: list[float]) -> list[float]:
        if value[0] > value[1]:
            raise ValueError(f"must be [least, most] (got {value})")
        return value


class DetectParams(Section):
    """Object detection: YOLO's grid of anchor boxes, then NMS per class."""

    data: DetectData
    augment: AugmentParams
    models: Models
    primary_metric: Literal["map50"]
    anchors: Annotated[int, Field(ge=1, le=9)]  # per grid cell, chosen by k-means on the training boxes
    box_weight: Annotated[float, Field(gt=0)]  # the box terms of the loss against objectness and class
    no_object_weight: Annotated[float, Field(gt=0)]  # objectness of the anchors that hold no object
    score_threshold: Annotated[float, Field(ge=0, lt=1)]  # a detection's least p_c · class probability
    iou_threshold: Annotated[float, Field(gt=0, lt=1)]  # NMS: overlap above which the weaker box goes
    examples: Annotated[int, Field(ge=1, le=64)]  # test scenes in the boxes plot

    _empty_models = field_validator("models", mode="before")(_models_may_be_empty)


class LocalizeParams(Section):
    """Classification with localisation: y = [p_c, b_x, b_y, b_h, b_w, c_1 ... c_n]."""

    data: LocalizeData
    augment: AugmentParams
    models: Models
    primary_metric: Literal["mean_iou", "class_accuracy", "iou50"]
    box_weight: Annotated[float, Field(gt=0)]  # the box's squared error against p_c and class
    examples: Annotated[int, Field(ge=1, le=64)]  # test images in the boxes plot

    _empty_models = field_validator("models", mode="before")(_models_may_be_empty)


class LandmarksAugment(AugmentParams):
    # point pairs (numbered from 1) that a mirror swaps: a mirrored top-left corner is the top-right
    mirror_pairs: list[Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]]


class LandmarksParams(Section):
    """K ordered (x, y) points per image, squared error."""

    data: LandmarksData
    augment: LandmarksAugment
    models: Models
    primary_metric: Literal["nme", "pck"]
    pck_threshold: Annotated[float, Field(gt=0, lt=1)]  # a point within this share of the size
    examples: Annotated[int, Field(ge=1, le=64)]  # test images in the points plot

    _empty_models = field_validator("models", mode="before")(_models_may_be_empty)


class VerifyData(Section):
    """Photos with identities, split by identity: built-in glyphs (characters rendered from the
    installed fonts, one identity a character) or a folder per person."""

    source: Literal["glyphs", "folders"]
    path: str | None  # folders: path/<identity>/<image>
    image_size: Annotated[int, Field(ge=16, le=256)]
    channels: Literal[1, 3]  # folders: grey or colour (glyphs are grey)
    train_alphabets: Annotated[list[str], Field(min_length=1)]  # glyphs: the training identities
    unseen_alphabets: Annotated[list[str], Field(min_length=1)]  # glyphs: val and test, halved by identity
    photos: Annotated[int, Field(ge=2)]  # glyphs: photos of each training identity
    unseen_photos: Annotated[int, Field(ge=2)]  # glyphs: photos of each val and test identity
    ratios: Ratios  # folders: shares of the people
    seed: int

    _path_needed = field_validator("path")(_path_required_for("folders"))


class VerifyParams(Section):
    """Verification and one-shot recognition: an L2-normalised embedding of any zoo network."""

    data: VerifyData
    augment: AugmentParams
    models: Models
    primary_metric: Literal["way20", "auc"]
    loss: Literal["triplet", "pair"]  # batch-hard triplets, or logistic regression on |f(a) - f(b)|
    margin: Annotated[float, Field(gt=0, le=2)]  # triplet: alpha, between distances of unit vectors
    embedding: Annotated[int, Field(ge=2, le=1024)]  # the embedding's width
    photos_per_identity: Annotated[int, Field(ge=2)]  # K of a batch of P x K (P = batch_size / K)
    episodes: Annotated[int, Field(ge=10)]  # N-way one-shot episodes, seeded, for each N
    # test identities in the embedding map; 5-way episodes in one_shot.png
    examples: Annotated[int, Field(ge=2, le=20)]

    _empty_models = field_validator("models", mode="before")(_models_may_be_empty)


class ClipsData(Section):
    """Clips or volumes, D×S×S×C: built-in moving digits, or a folder per class of .npy arrays."""

    source: Literal["moving_digits", "folders"]
    path: str | None  # folders: path/<class>/<clip>.npy
    clips: Annotated[int, Field(ge=20)]  # moving_digits: how many to make
    frames: Annotated[int, Field(ge=2, le=64)]  # moving_digits
    image_size: Annotated[int, Field(ge=16, le=256)]  # moving_digits
    speed: Annotated[int, Field(ge=1, le=8)]  # moving_digits: pixels a frame
    ratios: Ratios
    seed: int

    _path_needed = field_validator("path")(_path_required_for("folders"))

    @model_validator(mode="after")
    def _path_fits(self) -> ClipsData:
        from dlpipe.data.clips import path_problem

        problem = self.source == "moving_digits" and path_problem(self.frames, self.image_size, self.speed)
        if problem:
            raise ValueError(f"(frames, image_size, speed): {problem}")
        return self


class ClipsParams(Section):
    """3-D convolution: a class for each clip or volume, C×D×H×W."""

    data: ClipsData
    augment: AugmentParams
    models: Models
    primary_metric: Literal["accuracy"]
    examples: Annotated[int, Field(ge=1, le=32)]  # test clips in the clips plot

    _empty_models = field_validator("models", mode="before")(_models_may_be_empty)


class StyleGallery(Section):
    contents: Annotated[list[str], Field(min_length=1)]  # built-in names or image files
    styles: Annotated[list[str], Field(min_length=1)]


class StyleParams(Section):
    """Neural style transfer: J(G) = alpha J_content(C, G) + beta J_style(S, G) + tv_weight TV(G),
    minimised over G's pixels (dlpipe.style)."""

    extractor: Literal["random_multiscale", "vgg19", "random_vgg19"]
    content_layer: str | None  # null: the extractor's own default
    style_layers: dict[str, Annotated[float, Field(ge=0)]] | None  # layer -> weight; null: default
    alpha: Annotated[float, Field(ge=0)]
    beta: Annotated[float, Field(ge=0)]
    tv_weight: Annotated[float, Field(ge=0)]
    optimizer: Literal["lbfgs", "adam"]
    steps: Annotated[int, Field(ge=1)]  # L-BFGS iterations, or Adam steps
    lr: Annotated[float, Field(gt=0)]  # adam
    image_size: Annotated[int, Field(ge=16, le=1024)]
    init: Literal["content", "noise"]
    preserve_colour: bool  # transfer on luminance only; the content's colours kept
    seed: int
    gallery: StyleGallery


class ClaimsParams(Section):
    """`make claims`: each of the course's claims (dlpipe/claims/) run once per seed."""

    # a spread needs three runs at least; numpy and scikit-learn take seeds of 0 to 2³² − 1
    seeds: Annotated[list[Annotated[int, Field(ge=0, le=2**32 - 1)]], Field(min_length=3)]

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"claims.seeds repeats a seed ({seeds}): each run must differ")
        return seeds


class Params(Section):
    data: DataParams
    augment: AugmentParams
    models: Models  # the classification models
    train: TrainParams
    transfer: TransferParams
    evaluate: EvaluateParams
    export: ExportParams
    leaderboard: LeaderboardParams
    tune: TuneParams
    tracking: TrackingParams
    localize: LocalizeParams
    landmarks: LandmarksParams
    detect: DetectParams
    verify: VerifyParams
    clips: ClipsParams
    style: StyleParams
    claims: ClaimsParams

    _empty_models = field_validator("models", mode="before")(_models_may_be_empty)

    def models_of(self, family: str) -> dict[str, ModelSettings]:
        """A family's models: classification's under ``models``, the others' in their section."""
        return self.models if family == "classify" else getattr(self, family).models

    def family_of(self, name: str) -> str:
        for family in FAMILIES:
            if name in self.models_of(family):
                return family
        raise KeyError(name)

    @property
    def model_families(self) -> dict[str, str]:
        """Every model of every family -> its family."""
        return {name: family for family in FAMILIES for name in self.models_of(family)}

    def model_settings(self, name: str) -> ModelSettings:
        return self.models_of(self.family_of(name))[name]

    def primary_metric(self, family: str) -> str:
        return self.evaluate.primary_metric if family == "classify" else getattr(self, family).primary_metric

    def monitor(self, family: str) -> tuple[str, str]:
        """The validation metric that stands for the family's primary metric, and its direction."""
        return FAMILIES[family].monitors[self.primary_metric(family)]

    def data_of(
        self, family: str
    ) -> DataParams | LocalizeData | LandmarksData | DetectData | VerifyData | ClipsData:
        return self.data if family == "classify" else getattr(self, family).data

    def augment_of(self, family: str) -> AugmentParams:
        return self.augment if family == "classify" else getattr(self, family).augment

    @model_validator(mode="after")
    def _known_models(self) -> Params:
        from dlpipe.models.registry import ARCHITECTURES, OWN_ARCHITECTURES

        seen: dict[str, str] = {}
        for family in FAMILIES:
            key = "models" if family == "classify" else f"{family}.models"
            for name, settings in self.models_of(family).items():
                if not re.match(MODEL_NAME, name):
                    raise ValueError(f"{key} has a model name {name!r} unfit for a folder name")
                if name in seen:
                    raise ValueError(f"{key}.{name} is also a model of {seen[name]}: names must be unique")
                seen[name] = key
                arch = settings.arch or name
                if arch not in ARCHITECTURES:
                    known = ", ".join(sorted(ARCHITECTURES))
                    raise ValueError(f"{key}.{name} names an unknown architecture {arch!r} (known: {known})")
                own = OWN_ARCHITECTURES.get(family)
                if own is not None and arch not in own:
                    wanted = f"one of {', '.join(sorted(own))}"
                    raise ValueError(f"{key}.{name} has architecture {arch}: a {family} model needs {wanted}")
                for other, archs in OWN_ARCHITECTURES.items():
                    if other != family and arch in archs:
                        raise ValueError(
                            f"{key}.{name} has architecture {arch}, which only {other} models take"
                        )
        return self

    @model_validator(mode="after")
    def _ensemble_of_known_models(self) -> Params:
        unknown = [name for name in self.leaderboard.ensemble if name not in self.models]
        if unknown:
            raise ValueError(
                f"leaderboard.ensemble names {unknown[0]!r}, which is not a classification model of models"
            )
        if len(self.leaderboard.ensemble) == 1:
            raise ValueError("leaderboard.ensemble needs at least two models (or none)")
        return self

    @model_validator(mode="after")
    def _tuned_models_exist(self) -> Params:
        # tune.model is checked where `dlpipe tune` uses it: an edit of models must not break other stages.
        for name in self.tune.models:
            if name not in self.models:
                raise ValueError(f"tune.models names {name!r}, which is not a classification model of models")
        choices = self.tune.space.get("model")
        for name in choices.choices if choices else []:
            if name not in self.model_families:
                raise ValueError(
                    f"tune.space.model chooses {name!r}, which is not a model of any family's models"
                )
        return self

    def arch_of(self, name: str) -> str:
        return self.model_settings(name).arch or name

    def model_key(self, name: str) -> str:
        """Where the model lives in params.yaml: ``models.NAME`` or ``FAMILY.models.NAME``."""
        family = self.family_of(name)
        return f"models.{name}" if family == "classify" else f"{family}.models.{name}"

    def train_for(self, name: str) -> TrainParams:
        """The shared train section with this model's overrides applied, nested: a model that sets
        ``early_stopping: {monitor: ...}`` keeps the section's patience and min_delta, and a model
        that sets ``epochs`` or ``steps`` replaces the section's length (the other becomes null)."""
        return TrainParams.model_validate(
            with_train_overrides(self.train.model_dump(), self.model_settings(name).train)
        )

    def check_model(self, name: str) -> None:
        """Raise ValueError for a train override that the model's family does not read, or an
        early-stopping metric its family does not compute."""
        family = self.family_of(name)
        for other, spec in FAMILIES.items():
            if other == family:
                continue
            for key in sorted(spec.exclusive_train_keys & set(self.model_settings(name).train)):
                raise ValueError(
                    f"{self.model_key(name)}.train.{key} is a {spec.title.lower()} key; "
                    f"{name} is a {family} model"
                )
        monitor = self.train_for(name).early_stopping.monitor
        known = {"val_loss", "primary", *(metric for metric, _ in FAMILIES[family].monitors.values())}
        if monitor not in known:
            raise ValueError(
                f"train.early_stopping.monitor {monitor!r} is not a metric of {name} "
                f"(a {family} model: {', '.join(sorted(known))})"
            )


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
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s) (got {value!r})"
    expected = _TYPE_NAMES.get(kind.rsplit("_", 1)[0], kind.split("_")[0])
    return f"must be {expected} (got {value!r})"


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """The first error, as ``key.path must be ...`` (the command line names the file)."""
    error = exc.errors()[0]
    # Union members add their own type name to the location; drop those.
    parts = [prefix] if prefix else []
    parts += [str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal["))]
    parts = [p for p in parts if p not in {"int", "str", "float", "bool"}]
    key = ".".join(parts)
    phrase = _describe(error)
    return f"{key} {phrase}" if key else phrase


# libyaml's loader where PyYAML was built with it: 8x faster than the Python one on
# params.yaml, which every stage reads
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml; raise ConfigError with a one-line message naming the key."""
    if not path.exists():
        raise ConfigError("file not found")
    try:
        raw = yaml.load(path.read_text(), Loader=_LOADER) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError("top level must be a mapping of sections")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    for name in params.model_families:
        try:
            params.train_for(name)
        except ValidationError as exc:
            raise ConfigError(
                format_validation_error(exc, prefix=f"{params.model_key(name)}.train")
            ) from None
        try:
            params.check_model(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return params
