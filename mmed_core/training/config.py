# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""The training run's configuration: a YAML file with ``model``, ``data`` and ``train`` sections.

    python -m mmed_core.training.config config/train_synthetic.yaml train.lr=0.01 \
        model.method=enc-dec model.targets=[depth]

prints the resolved configuration. ``key=value`` overrides use dotted keys; values are parsed with
``yaml.safe_load`` (``[depth]`` is a list, ``1e-3`` a float, ``null`` None). Every unknown
section or key is a :class:`~mmed_core.errors.ConfigError` that lists the valid ones.

Paper defaults (§3.3): SGD, lr 1e-3, momentum 0.9, weight decay 5e-4, 96x96 input, early stopping
on a validation split. Where the paper is silent (batch size, epochs, patience) the value is ours.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmed_core.data import DATASETS
from mmed_core.data.augment import AUGMENTS, TRAIN_DEPTH_INPUTS
from mmed_core.errors import ConfigError
from mmed_core.network.config import METHODS, PRESETS, ModelConfig

__all__ = [
    "DataConfig",
    "TrainConfig",
    "RunConfig",
    "load_run_config",
    "apply_overrides",
    "model_config_for",
    "SECTIONS",
    "DATASET_FIELDS",
    "BALANCE_MODES",
    "RECIPES",
    "RECIPE_KEYS",
    "DEFAULT_RECIPE",
    "describe_recipe",
    "recipe_values",
    "recipe_conflicts",
    "describe_conflicts",
]

#: ``train.balance`` values (mmed_core.training.balance).
BALANCE_MODES = ("none", "uncertainty", "dwa")
#: ``train.recipe``: named sets of train settings, applied beneath the file's and the command
#: line's own ``train`` values (a value written there wins). Every recipe sets every key of
#: ``RECIPE_KEYS``, so switching recipes switches all of them. ``paper`` is §3.3 (SGD, lr 1e-3,
#: momentum 0.9, weight decay 5e-4, every path's loss weight 1); the others are measured against
#: it by ``mmed-experiment`` (docs/EXPERIMENTS.md). A recipe's ``loss_weights`` may name
#: modalities a method does not decode (enc-decs has no RGB decoder): those are dropped for that
#: method. The default is ``adam`` (DEFAULT_RECIPE) since the table1-48 study: it doubled mIoU
#: over ``paper`` at equal steps with depth unchanged (docs/EXPERIMENTS.md, "Recipes").
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {
        "optimizer": "sgd",
        "lr": 1e-3,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "balance": "none",
        "loss_weights": {},
    },
}
RECIPES["uncertainty"] = {**RECIPES["paper"], "balance": "uncertainty"}
RECIPES["dwa"] = {**RECIPES["paper"], "balance": "dwa"}
# The RGB-decoding L1 losses (channel-summed, 0..255 units) dominate the paper's plain sum.
RECIPES["rgb0.1"] = {**RECIPES["paper"], "loss_weights": {"rgb": 0.1}}
# The shipped indoor model's (config/train_indoor.yaml): Adam, and loss weights that bring the
# L1 terms (RGB ~300, depth ~60 at the start) to the order of the cross-entropy (~1).
RECIPES["adam"] = {
    **RECIPES["paper"],
    "optimizer": "adam",
    "weight_decay": 1e-4,
    "loss_weights": {"rgb": 0.01, "depth": 0.03, "label": 1.0},
}
#: The recipe of a config that names none.
DEFAULT_RECIPE = "adam"
#: The ``train`` keys a recipe sets.
RECIPE_KEYS: tuple[str, ...] = tuple(RECIPES["paper"])
#: Model fields that come from the dataset (``ds.info``), never from the YAML file.
DATASET_FIELDS = ("class_names", "palette", "depth_range", "depth_units", "dataset", "input_size")


@dataclass
class DataConfig:
    """The ``data:`` section of a run config: dataset, splits, size, cache, unpaired extra."""

    dataset: str = "synthetic"  # synthetic | nyudv2 | cityscapes
    root: str | None = None  # dataset folder; synthetic: None generates the scenes in memory
    size: tuple[int, int] = (96, 96)  # (H, W) network input, §3.3
    cache_dir: str | None = None  # preprocessing cache (resized arrays), see mmed_core.data
    options: dict[str, Any] = field(default_factory=dict)  # passed to build_dataset(options=...)
    extra: bool = False  # add the unpaired `extra` split (RGB only): the paper's "+extra"
    # 0: the paper's mixing (an epoch covers paired and unpaired samples, >= 1 paired per batch;
    # with 2x unpaired data that is 3x the steps). N > 0: step-matched, every batch is the run
    # without extra's batch of paired samples plus N unpaired ones (same steps per epoch).
    extra_per_batch: int = 0
    train_split: str = "train"
    val_split: str = "val"
    # Training-set transforms (mmed_core.data.augment; validation/test never get them):
    # none (paper, bit-identical to runs before it) | flip | standard (flip, zoom 1-1.25x,
    # photometric jitter of the RGB input only) | randconv (standard, and on half the samples a
    # random convolution of the RGB input: RandConv).
    augment: str = "none"
    # clean: the depth is input and target | kinect: the depth encoder reads a Kinect-like
    # depth (noise, quantisation, holes), every depth loss scores the clean one. Validation
    # reads it too (one fixed draw per train.seed and sample, the same every epoch) | mixed: half
    # the training samples (drawn per sample and epoch) read the Kinect-like depth, the others
    # the clean one; validation reads the Kinect-like depth.
    depth_input: str = "clean"


@dataclass
class TrainConfig:
    """The ``train:`` section of a run config: recipe, optimiser, budget, selection, device."""

    # A named set of optimizer, lr, momentum, weight_decay, balance and loss_weights (RECIPES);
    # a value written in the file or on the command line wins over the recipe's.
    recipe: str = DEFAULT_RECIPE
    # The recipe's values always replace these four (every recipe sets them).
    optimizer: str = "adam"  # sgd (paper §3.3) | adam
    lr: float = 1e-3  # paper §3.3
    momentum: float = 0.9  # paper §3.3 (SGD only)
    weight_decay: float = 1e-4  # paper §3.3: 5e-4
    batch_size: int = 8  # per process; paper silent
    epochs: int = 100  # upper bound; early stopping usually ends the run first (paper silent)
    patience: int = 10  # epochs without validation improvement before stopping (paper silent)
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    monitor: str = (
        "main"  # validation paths to stop on: main = RGB->targets paths, all = every path
    )
    # How the monitored paths' validation losses become the one number that early stopping and
    # best.safetensors follow: normalised = mean over paths of (loss / the path's loss at the
    # first validation), so every task counts alike whatever its loss scale; sum = their plain
    # sum (the old rule: depth L1 outweighs label cross-entropy).
    criterion: str = "normalised"
    # none = the paper's plain sum of path losses; uncertainty = Kendall et al. 2018 learned
    # weights; dwa = Liu et al. 2019 dynamic weight average (mmed_core.training.balance)
    balance: str = "none"
    loss_weights: dict[str, float] = field(default_factory=dict)  # per target modality, default 1
    grad_clip: float = 0.0  # max gradient norm; 0 = off (paper: none)
    # How the all-paths loss is computed: multipath = one encoder->decoder pair at a time;
    # batched = each decoder once over all sources' latents (same loss and gradients, see
    # mmed_core.network.batched_loss); auto = batched on CUDA, multipath on CPU, where batching
    # measured 0.84x (docs/BENCHMARKS.md).
    loss: str = "auto"
    max_steps_per_epoch: int = 0  # 0 = the whole epoch; >0 caps it (quick budgets)
    # Fine-tuning: a .safetensors checkpoint of this project (e.g. models/nyu12-synthetic
    # .safetensors, a run's best.safetensors) whose weights a NEW run starts from; its model must
    # be the one this run builds (method, widths, modalities, classes, input size). The optimiser
    # and the step count start afresh; --resume continues the run's own state and never reloads
    # it. A relative path is relative to the working directory. null: random initialisation.
    init: str | None = None
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_workers: int = 0  # DataLoader workers; 0 keeps CPU runs bit-reproducible and light
    # torch CPU threads; 0 = torch's default. On a busy shared CPU, 1 thread per process is far
    # faster than 2 (OpenMP threads spin-wait for each other when the cores are taken).
    threads: int = 0
    out_dir: str = "runs/{dataset}-{method}"  # {dataset}, {method}, {run} are filled in
    tensorboard: bool = True  # used only if the `tensorboard` package imports
    progress: bool = True  # a bar on a terminal; in a log a line a minute in a long epoch


@dataclass
class RunConfig:
    """A whole run config (model, data, train), as read from YAML plus overrides."""

    model: dict[str, Any]  # ModelConfig fields (without the dataset ones) plus `preset`
    data: DataConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        d = {
            "model": copy.deepcopy(self.model),
            "data": dataclasses.asdict(self.data),
            "train": dataclasses.asdict(self.train),
        }
        d["data"]["size"] = list(self.data.size)
        return d

    @property
    def run_name(self) -> str:
        method = self.model.get("method", "mmed")
        targets = self.model.get("targets") or []
        name = method + (
            "-" + "-".join(targets) if method in ("enc-dec", "enc-dec-u") and targets else ""
        )
        return name + ("+extra" if self.data.extra else "")

    @property
    def out_dir(self) -> Path:
        return Path(
            self.train.out_dir.format(
                dataset=self.data.dataset,
                method=self.model.get("method", "mmed"),
                run=self.run_name,
            )
        )


SECTIONS: dict[str, type] = {"data": DataConfig, "train": TrainConfig}
_MODEL_KEYS = sorted(
    {"preset"} | {f.name for f in dataclasses.fields(ModelConfig)} - set(DATASET_FIELDS)
)


def _field_names(section: str) -> list[str]:
    return (
        _MODEL_KEYS
        if section == "model"
        else [f.name for f in dataclasses.fields(SECTIONS[section])]
    )


def _check_keys(section: str, keys: Sequence[str], where: str) -> None:
    valid = _field_names(section)
    unknown = [k for k in keys if k not in valid]
    if unknown:
        hint = (
            f" ({', '.join(DATASET_FIELDS)} come from the dataset's info)"
            if section == "model" and set(unknown) & set(DATASET_FIELDS)
            else ""
        )
        named = [f"{section}.{k}" for k in unknown]
        raise ConfigError(
            f"{where}: unknown key(s) {named} in section `{section}`; valid keys: {valid}{hint}"
        )


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(
            f"override {text!r}: expected key=value with a dotted key, e.g. train.lr=0.01"
        )
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(
            f"override {text!r}: the key must be section.name (sections: "
            f"{['model', *SECTIONS]}), got {key!r}"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value {raw!r} is not valid YAML ({exc})") from exc
    return parts, value


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of the section dict ``raw`` with ``section.key[.sub]=value`` overrides
    applied.

    Only ``data.options`` and ``train.loss_weights`` (free-form dicts) accept a third level.
    """
    out = copy.deepcopy(raw)
    for text in overrides:
        parts, value = _parse_override(text)
        section, key = parts[0], parts[1]
        if section not in ("model", *SECTIONS):
            raise ConfigError(
                f"override {text!r}: unknown section `{section}`; sections: {['model', *SECTIONS]}"
            )
        _check_keys(section, [key], f"override {text!r}")
        node = out.get(section)
        if node is None:  # `data:` left empty in the YAML file
            node = out[section] = {}
        if not isinstance(node, dict):
            raise ConfigError(
                f"override {text!r}: section `{section}` holds {node!r}, not a mapping"
            )
        if len(parts) > 2:
            if (section, key) not in (("data", "options"), ("train", "loss_weights")):
                raise ConfigError(f"override {text!r}: `{section}.{key}` has no sub-keys")
            node = node.setdefault(key, {}) or {}
            out[section][key] = node
            for p in parts[2:-1]:
                if not isinstance(node, dict):
                    break
                node = node.setdefault(p, {})
            if not isinstance(node, dict):  # e.g. data.options=5 then data.options.k=1
                raise ConfigError(
                    f"override {text!r}: `{'.'.join(parts[:-1])}` holds {node!r}, "
                    "not a mapping that can take a sub-key"
                )
            node[parts[-1]] = value
        else:
            node[key] = value
    return out


def _build_section(section: str, values: Mapping[str, Any], where: str) -> Any:
    _check_keys(section, list(values), where)
    cls = SECTIONS[section]
    obj = cls(**{k: v for k, v in values.items() if v is not None or k in ("root", "cache_dir")})
    for f in dataclasses.fields(cls):
        v = getattr(obj, f.name)
        if isinstance(f.default, float) and isinstance(v, str):
            try:  # PyYAML reads `1e-3` (no dot) as a string; accept it as the float it means
                v = float(v)
                setattr(obj, f.name, v)
            except ValueError:
                pass
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{where}: `{section}.{f.name}` must be a number, got {v!r}")
            if isinstance(f.default, int) and not isinstance(v, int):
                raise ConfigError(f"{where}: `{section}.{f.name}` must be an integer, got {v!r}")
        elif isinstance(f.default, bool) and not isinstance(v, bool):
            raise ConfigError(f"{where}: `{section}.{f.name}` must be true or false, got {v!r}")
        elif isinstance(f.default, str) and not isinstance(v, str):  # later .format()/lookups
            raise ConfigError(f"{where}: `{section}.{f.name}` must be a string, got {v!r}")
    return obj


def _validate(run: RunConfig, where: str) -> None:
    t, d = run.train, run.data
    if t.optimizer not in ("sgd", "adam"):
        raise ConfigError(f"{where}: train.optimizer must be `sgd` or `adam`, got {t.optimizer!r}")
    if t.monitor not in ("main", "all"):
        raise ConfigError(f"{where}: train.monitor must be `main` or `all`, got {t.monitor!r}")
    if t.criterion not in ("normalised", "sum"):
        raise ConfigError(
            f"{where}: train.criterion must be `normalised` or `sum`, got {t.criterion!r}"
        )
    if t.balance not in BALANCE_MODES:
        raise ConfigError(
            f"{where}: train.balance must be one of {list(BALANCE_MODES)}, got {t.balance!r}"
        )
    if d.extra_per_batch < 0 or (d.extra_per_batch > 0 and not d.extra):
        raise ConfigError(
            f"{where}: data.extra_per_batch must be >= 0 and needs data.extra: true, got "
            f"{d.extra_per_batch!r} with data.extra={d.extra!r}"
        )
    if d.augment not in AUGMENTS:
        raise ConfigError(
            f"{where}: data.augment must be one of {list(AUGMENTS)}, got {d.augment!r}"
        )
    if d.depth_input not in TRAIN_DEPTH_INPUTS:
        raise ConfigError(
            f"{where}: data.depth_input must be one of {list(TRAIN_DEPTH_INPUTS)}, "
            f"got {d.depth_input!r}"
        )
    if t.loss not in ("auto", "multipath", "batched"):
        raise ConfigError(
            f"{where}: train.loss must be `auto`, `multipath` or `batched`, got {t.loss!r}"
        )
    for name in ("lr", "batch_size", "epochs"):
        if getattr(t, name) <= 0:
            raise ConfigError(f"{where}: train.{name} must be > 0, got {getattr(t, name)!r}")
    if t.init is not None and (not isinstance(t.init, str) or not t.init.strip()):
        raise ConfigError(
            f"{where}: train.init must be the path of a .safetensors checkpoint or null, "
            f"got {t.init!r}"
        )
    if t.patience < 1:
        raise ConfigError(f"{where}: train.patience must be >= 1, got {t.patience!r}")
    if not isinstance(t.loss_weights, dict):
        raise ConfigError(
            f"{where}: train.loss_weights must be a mapping modality -> weight, "
            f"got {t.loss_weights!r}"
        )
    size = tuple(d.size) if isinstance(d.size, (list, tuple)) else ()
    if len(size) != 2 or any(not isinstance(s, int) or s <= 0 or s % 4 for s in size):
        raise ConfigError(
            f"{where}: data.size must be [H, W], both divisible by 4, got {d.size!r}"
        )
    d.size = size
    if not isinstance(d.options, dict):
        raise ConfigError(f"{where}: data.options must be a mapping, got {d.options!r}")
    m = run.model
    if m.get("method", "mmed") not in METHODS:
        raise ConfigError(
            f"{where}: unknown model.method {m.get('method')!r}; methods: {list(METHODS)}"
        )
    if m.get("preset") is not None and (
        not isinstance(m["preset"], str) or m["preset"] not in PRESETS
    ):
        raise ConfigError(
            f"{where}: unknown model.preset {m['preset']!r}; presets: {list(PRESETS)}"
        )
    if d.root is not None and not Path(str(d.root)).expanduser().exists():
        raise ConfigError(
            f"{where}: data.root {d.root!r} does not exist (dataset `{d.dataset}` expects its "
            "folder there; synthetic accepts root: null)"
        )


def load_run_config(
    path: str | Path | None, overrides: Sequence[str] = (), datasets: Sequence[str] | None = None
) -> RunConfig:
    """Read the YAML file (``None``: all defaults), apply overrides and validate everything.

    ``datasets`` lists the known dataset names (default: ``mmed_core.data.DATASETS``).
    """
    where = str(path) if path is not None else "<defaults>"
    raw: Any = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"config file {p} not found "
                "(expected a YAML file such as config/train_synthetic.yaml)"
            )
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected a mapping with sections {['model', *SECTIONS]}, "
            f"got {type(raw).__name__}"
        )
    unknown = sorted(set(raw) - {"model", *SECTIONS})
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {unknown}; sections: {['model', *SECTIONS]}"
        )
    for sec in ("model", *SECTIONS):
        if raw.get(sec) is None:
            raw[sec] = {}
        if not isinstance(raw[sec], dict):
            raise ConfigError(f"{where}: section `{sec}` must be a mapping, got {raw[sec]!r}")
    in_file = dict(raw["train"])
    raw = apply_overrides(raw, overrides)
    _check_keys("model", list(raw["model"]), where)
    recipe = raw["train"].get("recipe") or DEFAULT_RECIPE
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise ConfigError(f"{where}: unknown train.recipe {recipe!r}; recipes: {list(RECIPES)}")
    train_overrides = [o for o in overrides if o.strip().startswith("train.")]
    on_line = apply_overrides({"train": {}}, train_overrides)
    if on_line["train"].get("recipe") is not None:
        # The file's own values win over a recipe: one named on the command line would be
        # silently overridden where the file spells a different value.
        beneath = {k: v for k, v in in_file.items() if k not in on_line["train"]}
        clash = recipe_conflicts(recipe, beneath)
        if clash:
            raise ConfigError(
                f"{where}: train.recipe={recipe} on the command line, but the file sets "
                f"{describe_conflicts(clash)}, which would win over the recipe; leave them to "
                "the recipe (remove them from the file) or set them on the command line too"
            )
    # A value left out (or null) comes from the recipe; a loss_weights mapping written in the
    # file or on the command line replaces the recipe's whole mapping.
    written = {k: v for k, v in raw["train"].items() if v is not None}
    raw["train"] = {**copy.deepcopy(RECIPES[recipe]), **written, "recipe": recipe}
    run = RunConfig(
        model=dict(raw["model"]),
        data=_build_section("data", raw["data"], where),
        train=_build_section("train", raw["train"], where),
    )
    if datasets is None:
        datasets = tuple(DATASETS)
    if run.data.dataset not in datasets:
        raise ConfigError(
            f"{where}: unknown data.dataset {run.data.dataset!r}; datasets: {sorted(datasets)}"
        )
    _validate(run, where)
    if "loss_weights" not in written and run.train.loss_weights:
        # The recipe's weights may name modalities this method has no decoder for (enc-decs: no
        # RGB decoder); weights the user wrote are checked by the trainer and such a name is an
        # error there.
        decoded = _decoded_modalities(run.model, where)
        run.train.loss_weights = {m: w for m, w in run.train.loss_weights.items() if m in decoded}
    return run


def _decoded_modalities(model: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """The modalities the model section's method decodes (ModelConfig.decoder_modalities)."""
    keys = ("method", "modalities", "targets")
    try:
        cfg = ModelConfig(**{k: model[k] for k in keys if model.get(k) is not None})
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{where}: model section: {exc}") from exc
    return cfg.decoder_modalities


def recipe_conflicts(recipe: str, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The train ``values`` (key -> value, e.g. a config file's) that differ from what
    ``recipe`` sets, as key -> (value, the recipe's); a value set beneath a recipe named later
    would silently beat it."""

    def same(value: Any, wanted: Any) -> bool:
        if isinstance(wanted, float) and not isinstance(value, bool):
            try:
                return float(value) == wanted
            except (TypeError, ValueError):
                return False
        return bool(value == wanted)

    base = RECIPES[recipe]
    return {
        k: (values[k], base[k])
        for k in RECIPE_KEYS
        if values.get(k) is not None and not same(values[k], base[k])
    }


def describe_conflicts(clash: Mapping[str, tuple[Any, Any]]) -> str:
    """``recipe_conflicts``' result as ``train.lr: 0.01 (the recipe's: 0.001), ...``."""
    return ", ".join(f"train.{k}: {v!r} (the recipe's: {r!r})" for k, (v, r) in clash.items())


def recipe_values(train: TrainConfig) -> dict[str, Any]:
    """The values this run uses for the keys a recipe sets (``RECIPE_KEYS``)."""
    return {k: copy.deepcopy(getattr(train, k)) for k in RECIPE_KEYS}


def describe_recipe(values: Mapping[str, Any]) -> str:
    """One line of recipe values, e.g. ``optimizer=sgd lr=0.001 ... loss_weights={}``."""

    def fmt(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {fmt(x)}" for k, x in v.items()) + "}"
        return f"{v:g}" if isinstance(v, float) else str(v)

    return " ".join(f"{k}={fmt(v)}" for k, v in values.items())


def model_config_for(run: RunConfig, info: Any) -> ModelConfig:
    """The ModelConfig of a run: preset, then the model section, then the dataset's info."""
    fields = dict(run.model)
    preset = fields.pop("preset", None)
    base = dict(PRESETS[preset]) if preset else {}
    base.update(fields)
    base.update(
        class_names=tuple(info.class_names),
        palette=tuple(tuple(c) for c in info.palette),
        depth_range=tuple(info.depth_range),
        depth_units=info.depth_units,
        dataset=info.name,
        input_size=tuple(run.data.size),
    )
    return ModelConfig.from_dict(base)


def _main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = args.pop(0) if args and "=" not in args[0] else None
    try:
        run = load_run_config(path, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(yaml.safe_dump(run.to_dict(), sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
