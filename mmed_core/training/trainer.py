# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The offline trainer of every method of the paper's Table 1 (paper §3.2-3.3).

    mmed-train --config config/train_synthetic.yaml train.epochs=5
    torchrun --nproc_per_node=2 -m mmed_core.cli.train --config config/train_nyudv2.yaml

Reads top to bottom like nanoGPT's train.py: ``_train`` builds data, model and optimiser,
optionally resumes (:class:`~mmed_core.training.state.RunState`) or, for a new run, starts from a
checkpoint's weights (``train.init``: fine-tuning), then per epoch trains over the
paired/unpaired batch sampler with the multi-path loss (combined by ``train.balance``), validates,
early-stops, writes ``best``/``last`` checkpoints and the resumable state. DDP helpers live in
:mod:`mmed_core.training.distributed`.

Selection rule: early stopping and ``best.safetensors`` follow ``train.criterion``; the default
``normalised`` is the mean over the monitored paths (RGB->depth, RGB->label) of each path's
validation loss divided by its value at the first validation, so a task counts the same whatever
its loss scale (``sum`` is the old plain sum, where depth L1 outweighs label cross-entropy).

The out_dir holds ``best.*``, ``last.*`` (model checkpoints), ``state.json`` +
``state-*.safetensors`` (resume), ``log.csv``, ``tb/`` (TensorBoard), ``config.yaml`` and
``summary.json``.
"""

from __future__ import annotations

import copy
import dataclasses
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from mmed_core.atomic import atomic_write_json, atomic_write_text
from mmed_core.data import build_dataset
from mmed_core.data.augment import TrainTransform, validation_depth_input, with_depth_input
from mmed_core.data.collate import collate
from mmed_core.data.labelled_folder import SPLIT_DIR, same_frames_every_split
from mmed_core.data.normals import with_normals
from mmed_core.deploy.checkpoint import load_checkpoint, load_weights_into, save_checkpoint
from mmed_core.errors import CheckpointError, ConfigError, MmedError
from mmed_core.network.base import MultiModalModel
from mmed_core.network.batched_loss import batched_multipath_loss
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss
from mmed_core.progress import progress
from mmed_core.training.balance import LossBalancer, path_name
from mmed_core.training.config import (
    SECTIONS,
    RunConfig,
    describe_recipe,
    model_config_for,
    recipe_values,
)
from mmed_core.training.distributed import (
    Dist,
    any_rank,
    barrier,
    init_distributed,
    sync_buffers,
    wrap_ddp,
)
from mmed_core.training.sampler import PairedBatchSampler, StepMatchedSampler
from mmed_core.training.state import (
    EpochStats,
    RunState,
    load_state_tensors,
    read_state,
    rng_state,
    save_state,
    set_rng_state,
)

__all__ = [
    "train",
    "TrainResult",
    "DivergedError",
    "ResumeMismatchError",
    "build_datasets",
    "validation_overlap",
    "DatasetFactory",
    "RESUMABLE_CHANGES",
]

DatasetFactory = Callable[..., Dataset]
#: Settings a resumed run may change; any other difference is a CheckpointError.
RESUMABLE_CHANGES = (
    "train.epochs",
    "train.patience",
    "train.num_workers",
    "train.threads",
    "train.progress",
    "train.tensorboard",
    "train.device",
    "train.out_dir",
    # Only a name: the values a recipe sets (optimizer, lr, ...) are compared one by one, so a
    # config that now names the recipe instead of spelling its values resumes.
    "train.recipe",
)


class ResumeMismatchError(CheckpointError):
    """``--resume`` of a run whose state.json was written with other settings."""


class DivergedError(MmedError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    """What ``train`` returns: how the run ended, where, and its best epoch and history."""

    status: str  # finished | early_stopped | interrupted | diverged (summary only)
    out_dir: str
    epochs_done: int
    global_step: int
    best_epoch: int
    best_val: float
    seconds: float
    images_per_s: float
    history: list[dict[str, Any]]
    model: nn.Module | None = dataclasses.field(
        default=None, repr=False
    )  # the trained (last) model


# ---------------------------------------------------------------------------- data
def _default_factory() -> DatasetFactory:

    return build_dataset


def build_datasets(
    run: RunConfig, factory: DatasetFactory | None = None, *, val_depth_input: str | None = None
) -> tuple[Dataset, list[bool], Dataset, Any]:
    """(train set incl. unpaired extra, paired flags, validation set, dataset info).

    A model with the ``normals`` modality gets them derived from each sample's depth
    (:func:`~mmed_core.data.normals.with_normals`); a dataset without metric depth is an error.
    The validation set's depth encoder reads ``val_depth_input`` (default: what training reads,
    ``kinect`` for ``mixed``; :func:`~mmed_core.data.augment.validation_depth_input`): with
    ``kinect``, one fixed draw per ``(train.seed, index)``
    (:func:`~mmed_core.data.augment.with_depth_input`), so every epoch validates on the same
    inputs; its targets stay the clean depth and ``data.augment`` never applies to it.
    """
    factory = _normals_factory(factory or _default_factory(), run)
    d = run.data
    kw = dict(root=d.root, size=tuple(d.size), cache_dir=d.cache_dir, options=dict(d.options))
    # mmed datasets are sized and carry `.info` (mmed_core.data.base); torch's Dataset type is not
    train_ds: Any = factory(d.dataset, d.train_split, **kw)
    val_ds: Any = factory(d.dataset, d.val_split, **kw)
    paired = [True] * len(train_ds)
    if d.extra:
        extra: Any = factory(d.dataset, "extra", **kw)
        if len(extra) == 0:
            raise ConfigError(
                f"data.extra is true but dataset `{d.dataset}` has no `extra` samples "
                f"(root={d.root!r}, options={d.options})"
            )
        paired += [False] * len(extra)
        train_ds = ConcatDataset([train_ds, extra])
    if len(val_ds) == 0:
        raise ConfigError(
            f"dataset `{d.dataset}` split `{d.val_split}` is empty; early stopping needs it"
        )
    if d.depth_input != "clean" and val_ds.info.depth_units != "m":
        raise ConfigError(
            f"data.depth_input={d.depth_input} simulates a metric depth sensor, but dataset "
            f"`{d.dataset}` gives depth in {val_ds.info.depth_units!r}; use depth_input=clean"
        )
    if d.augment != "none" or d.depth_input != "clean":
        # The training set only (paired and unpaired alike); set_epoch() each epoch.
        train_ds = TrainTransform(train_ds, d.augment, d.depth_input, seed=run.train.seed)
    # Model selection scores the input the model is trained for (fixed draws, no augmentation).
    val_input = (
        validation_depth_input(d.depth_input) if val_depth_input is None else val_depth_input
    )
    val_ds = with_depth_input(val_ds, val_input, seed=run.train.seed, where="data.depth_input")
    return train_ds, paired, val_ds, val_ds.info


def validation_overlap(run: RunConfig) -> str | None:
    """Why ``run`` validates on its training frames, or None when its splits are disjoint (as
    far as the config tells: ``labelled`` folders without split lists give every frame for
    every split)."""
    d = run.data
    if d.val_split == d.train_split:
        return (
            f"data.val_split and data.train_split are both {d.val_split!r}; set data.val_split "
            "to a held-out split"
        )
    if d.dataset == "labelled" and d.root is not None and same_frames_every_split(d.root):
        return (
            f"the labelled folder {d.root} has no split lists, so every split is every frame; "
            f"list held-out frames in {Path(d.root) / SPLIT_DIR}/val.txt and the training "
            "frames in train.txt (one frame stem a line; docs/SIM2REAL.md)"
        )
    return None


def _validation_record(run: RunConfig, depth_input: str) -> dict[str, Any]:
    """What summary.json and the checkpoints say of the validation set the run selected its
    epochs on: split, whether it is the training frames (and why), the depth input it read."""
    why = validation_overlap(run)
    return {
        "split": run.data.val_split,
        "same_frames_as_training": why is not None,
        "why": why,
        "depth_input": depth_input,
        "depth_input_seed": run.train.seed if depth_input != "clean" else None,
    }


def _normals_factory(factory: DatasetFactory, run: RunConfig) -> DatasetFactory:
    if "normals" not in (run.model.get("modalities") or ModelConfig.modalities):
        return factory

    def make(name: str, split: str, **kw: Any) -> Dataset:
        return with_normals(factory(name, split, **kw), f"dataset `{name}` split `{split}`")

    return make


class _LossModule(nn.Module):
    """Puts the multi-path loss inside ``forward`` so DDP sees (and syncs) every path."""

    def __init__(
        self, model: MultiModalModel, paths: tuple, balancer: LossBalancer, batched: bool
    ) -> None:
        super().__init__()
        self.model, self.paths, self.balancer = model, paths, balancer
        self.loss_fn = batched_multipath_loss if batched else multipath_loss

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        _, per_path = self.loss_fn(self.model, batch, self.paths, None)
        return self.balancer(per_path), per_path


# ---------------------------------------------------------------------------- logging
class _Logger:
    """CSV (rewritten atomically from the history) and optional TensorBoard, rank 0 only."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool, purge_step: int) -> None:
        self.out, self.enabled, self.tb = out, enabled, None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                warnings.warn(
                    "tensorboard is not installed: skipping the TensorBoard log "
                    "(log.csv is written)",
                    stacklevel=2,
                )
            else:
                self.tb = SummaryWriter(str(out / "tb"), purge_step=purge_step or None)

    def step(self, global_step: int, loss: float) -> None:
        if self.tb is not None:
            self.tb.add_scalar("train/loss_step", loss, global_step)

    def epoch(self, history: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        keys = list(dict.fromkeys(k for row in history for k in row))
        lines = [",".join(keys)] + [
            ",".join(_fmt(row.get(k, "")) for k in keys) for row in history
        ]
        atomic_write_text(self.out / "log.csv", "\n".join(lines) + "\n")
        if self.tb is not None:
            row = history[-1]
            for k, v in row.items():
                if k not in ("epoch", "global_step") and isinstance(v, (int, float)):
                    self.tb.add_scalar(k.replace("_", "/", 1), v, row["global_step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------- signals
class _StopFlag:
    """First Ctrl-C (or SIGTERM) asks for a clean stop after the current step; the second
    aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\n[mmed-train] stop requested: saving a resumable checkpoint after this step "
            "(press Ctrl-C again to abort without saving)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


# ---------------------------------------------------------------------------- helpers
def _optimizer(model: nn.Module, balancer: nn.Module, run: RunConfig) -> torch.optim.Optimizer:
    """The paper's SGD (or Adam) over the model; learned loss weights get no weight decay."""
    t = run.train
    groups: list[dict[str, Any]] = [{"params": list(model.parameters())}]
    if list(balancer.parameters()):
        groups.append({"params": list(balancer.parameters()), "weight_decay": 0.0})
    if t.optimizer == "adam":
        return torch.optim.Adam(groups, lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)


def _monitor_paths(paths: tuple, monitor: str) -> tuple:
    """`main`: the paper's tasks, RGB -> depth/label (RGB -> RGB for an RGB-only model)."""
    if monitor == "all":
        return paths
    main = tuple(p for p in paths if p[0] == "rgb" and p[1] != "rgb")
    return main or paths


def criterion(
    val: dict[str, float], monitor: tuple, ref: dict[str, float] | None, rule: str
) -> float:
    """The number early stopping and ``best`` follow (lower is better), from ``val``'s
    ``val_<src>2<dst>`` losses of the ``monitor`` paths.

    ``normalised``: mean over the paths of loss / ``ref[path]`` (the path's loss at the first
    validation), so each task weighs the same whatever its loss scale; ``sum``: the plain sum.
    """
    keys = [f"val_{path_name(p)}" for p in monitor if f"val_{path_name(p)}" in val]
    if rule == "sum" or ref is None:
        return sum(val[k] for k in keys)
    return sum(val[k] / max(ref[k], 1e-12) for k in keys) / max(len(keys), 1)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def _validate(
    model: MultiModalModel,
    loader: DataLoader,
    paths: tuple,
    weights: dict,
    monitor: tuple,
    device: torch.device,
) -> dict[str, float]:
    """Sample-weighted mean of each path's (weighted) loss over the validation set (eval mode):
    ``val_<src>2<dst>`` per path, ``val_loss`` (sum of the monitored ones), ``val_loss_all``."""
    model.eval()
    sums: dict[tuple, float] = {}
    n = 0
    for batch in loader:
        batch = _to(batch, device)
        b = batch["rgb"].shape[0]
        _, per_path = multipath_loss(model, batch, paths, weights)
        for p, v in per_path.items():
            sums[p] = sums.get(p, 0.0) + float(v) * b * float(weights.get(p[1], 1.0))
        n += b
    model.train()
    means = {p: s / max(n, 1) for p, s in sums.items()}
    out = {
        "val_loss": sum(v for p, v in means.items() if p in monitor),
        "val_loss_all": sum(means.values()),
    }
    out.update({f"val_{path_name(p)}": v for p, v in means.items()})
    return out


def _check_resume(run: RunConfig, saved: dict[str, Any], out: Path) -> dict[str, Any]:
    """Raise unless ``run`` continues the run ``saved`` (state.json's ``run``); return the
    settings the state predates that the run continues with at their legacy value.

    A key absent from an old state stands for its legacy value in ``_NEW_KEYS`` (the behaviour
    then). Where the config now holds today's default there, the run continues with the legacy
    value; any other value is a difference like every other.
    """
    now, then = _flat(run.to_dict()), _flat(saved)
    legacy: dict[str, Any] = {}
    for key, value in _NEW_KEYS.items():
        if then.get(key) is None:
            then[key] = value
            if now.get(key) != value and now.get(key) == _default(key):
                legacy[key] = now[key] = value
    diff = {
        k: (then.get(k), now.get(k))
        for k in sorted(set(now) | set(then))
        if now.get(k) != then.get(k) and not k.startswith(RESUMABLE_CHANGES)
    }
    if diff:
        raise ResumeMismatchError(
            f"{out}/state.json was written by a different config; differing keys "
            f"(saved, now): {diff}. Only {list(RESUMABLE_CHANGES)} may change on resume."
        )
    return legacy


#: Keys added after states were first written, with the value that reproduces the old runs.
_NEW_KEYS = {
    "train.criterion": "sum",
    "train.balance": "none",
    "train.recipe": "paper",
    "data.extra_per_batch": 0,
    "data.augment": "none",
    "data.depth_input": "clean",
    "train.init": None,
}


def _default(key: str) -> Any:
    section, name = key.split(".", 1)
    return {f.name: f.default for f in dataclasses.fields(SECTIONS[section])}.get(name)


def _with_legacy(run: RunConfig, legacy: dict[str, Any]) -> RunConfig:
    run = copy.deepcopy(run)
    for key, value in legacy.items():
        section, name = key.split(".", 1)
        setattr(getattr(run, section), name, value)
    return run


def _state_run(run: RunConfig, legacy: dict[str, Any]) -> dict[str, Any]:
    """The run as state.json records it: without the keys an old state lacks, so that the next
    resume continues it the same way."""
    d = run.to_dict()
    for key in legacy:
        section, name = key.split(".", 1)
        d[section].pop(name, None)
    return d


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k not in ("options", "loss_weights"):
            out.update(_flat(v, key + "."))
        else:
            out[key] = list(v) if isinstance(v, tuple) else v
    return out


def _init_weights(
    model: MultiModalModel,
    path: str | None,
    source: tuple[MultiModalModel, dict[str, Any]] | None,
    dd: Dist,
) -> dict[str, Any] | None:
    """Load ``train.init`` (``source``: its load_checkpoint) into the new run's ``model``; return
    what the run records of it (path as given, the weights' sha256 from its verified card, its
    dataset and epoch)."""
    if path is None:
        return None
    card = load_weights_into(model, path, what="train.init", loaded=source)
    init = {
        "path": path,
        "sha256": card["weights"]["sha256"],
        "dataset": card.get("dataset"),
        "epoch": card.get("epoch"),
    }
    if dd.main:
        saved = card["config"]
        other = [
            f"{k} {saved.get(k)!r} -> {v!r}"
            for k, v in model.config.to_dict().items()
            if k in ("dataset", "depth_range", "depth_units") and saved.get(k) != v
        ]
        print(
            f"[mmed-train] train.init: starting from {path} (sha256 {init['sha256'][:12]}..., "
            f"dataset {init['dataset']}, epoch {init['epoch']})"
            + (f"; fine-tuning to {', '.join(other)}" if other else ""),
            flush=True,
        )
    return init


def _epoch_iter(loader: DataLoader, limit: int, start: int) -> Iterator[dict[str, torch.Tensor]]:
    for i, batch in enumerate(loader, start=start):
        if limit and i >= limit:
            return
        yield batch


# ---------------------------------------------------------------------------- the run
def train(
    run: RunConfig,
    *,
    resume: bool = False,
    dataset_factory: DatasetFactory | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train ``run``; returns how it ended. Raises ConfigError/CheckpointError before any work,
    DivergedError on a non-finite loss. ``on_step(epoch, global_step)`` runs after every step."""
    out = run.out_dir
    saved = None
    legacy: dict[str, Any] = {}
    if resume:
        saved = read_state(out)
        legacy = _check_resume(run, saved["run"], out)
        run = _with_legacy(run, legacy)
    elif (out / "state.json").exists():
        raise ConfigError(
            f"{out} already holds a run (state.json); pass --resume to continue it or set "
            "train.out_dir to a new folder"
        )
    source = None
    if not resume and run.train.init is not None:
        # Read and verified before the datasets are built: a wrong path fails at once.
        try:
            source = load_checkpoint(run.train.init)
        except CheckpointError as exc:
            raise CheckpointError(f"train.init: {exc}") from exc
    dd, device = init_distributed(run.train.device)
    threads_before = torch.get_num_threads()
    if run.train.threads > 0:
        torch.set_num_threads(run.train.threads)
    try:
        if dd.main and legacy:
            print(
                f"[mmed-train] {out}/state.json predates {', '.join(legacy)}: the run continues "
                f"as it started, with {', '.join(f'{k}={v}' for k, v in legacy.items())}",
                flush=True,
            )
        return _train(run, saved, dataset_factory, on_step, dd, device, legacy, source)
    finally:
        torch.set_num_threads(threads_before)  # a library call leaves the process as it found it


def _train(
    run: RunConfig,
    saved: dict[str, Any] | None,
    dataset_factory: DatasetFactory | None,
    on_step: Callable[[int, int], None] | None,
    dd: Dist,
    device: torch.device,
    legacy: dict[str, Any],
    source: tuple[MultiModalModel, dict[str, Any]] | None,
) -> TrainResult:
    t, out = run.train, run.out_dir
    # -------------------------------------------------------------- data, model, optimiser
    torch.manual_seed(t.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
    # A state written before validation read data.depth_input validated on clean depth; a
    # resumed run goes on as it started, so its validation losses stay comparable.
    wanted = validation_depth_input(run.data.depth_input)
    val_input = wanted if saved is None else saved.get("val_depth_input", "clean")
    if dd.main and val_input != wanted:
        print(
            f"[mmed-train] {out}/state.json predates validation on data.depth_input: the run "
            f"goes on validating on {val_input} depth, as it started",
            flush=True,
        )
    train_ds, paired, val_ds, info = build_datasets(
        run, dataset_factory, val_depth_input=val_input
    )
    validation = _validation_record(run, val_input)
    if dd.main and validation["why"]:
        print(
            f"[mmed-train] WARNING: validation reads the training frames: {validation['why']}. "
            "The validation loss, early stopping and best.safetensors then follow the fit to "
            "the training frames, not how the model does on frames it has not seen.",
            flush=True,
        )
    cfg = model_config_for(run, info)
    model = create_model(cfg).to(device)
    paths = cfg.paths()
    weights = {k: float(v) for k, v in t.loss_weights.items()}
    unknown_w = sorted(set(weights) - set(cfg.decoder_modalities))
    if unknown_w:
        raise ConfigError(
            f"train.loss_weights names {unknown_w}; "
            f"this model decodes {list(cfg.decoder_modalities)} (a recipe's weights for "
            "modalities it does not decode are dropped; weights written in the config are not)"
        )
    if dd.main:
        print(
            f"[mmed-train] {run.run_name}: recipe {t.recipe}: {describe_recipe(recipe_values(t))}",
            flush=True,
        )
    # train.init: a new run starts from a checkpoint's weights (a resumed one from its own state,
    # below). Recorded in state.json, so a resume keeps naming it even if the file is gone.
    init = saved.get("init") if saved is not None else _init_weights(model, t.init, source, dd)
    source = None  # its copy of the weights is not kept for the whole run
    monitor = _monitor_paths(paths, t.monitor)
    balancer = LossBalancer(t.balance, paths, weights).to(device)
    opt = _optimizer(model, balancer, run)
    sampler: PairedBatchSampler | StepMatchedSampler
    if run.data.extra_per_batch > 0:
        sampler = StepMatchedSampler(
            paired, t.batch_size, run.data.extra_per_batch, seed=t.seed, rank=dd.rank,
            world_size=dd.world,
        )  # fmt: skip
    else:
        sampler = PairedBatchSampler(
            paired, t.batch_size, seed=t.seed, rank=dd.rank, world_size=dd.world
        )
    # The loader gets its own generator so it never draws from the global RNG (resume-exact).
    loader = DataLoader(
        train_ds,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=t.num_workers,
        generator=torch.Generator().manual_seed(t.seed),
        pin_memory=device.type == "cuda",
    )
    val_loader = DataLoader(
        val_ds, batch_size=t.batch_size, shuffle=False, collate_fn=collate,
        num_workers=t.num_workers,
    )  # fmt: skip
    state = RunState()
    if saved is not None:
        tensors = load_state_tensors(out, saved)
        model.load_state_dict(tensors["model"])
        balancer.load_state_dict(tensors.get("balance") or {})
        opt.load_state_dict(tensors["optimizer"])
        set_rng_state(tensors["rng"])
        state = RunState.from_json(saved)
    batched = t.loss == "batched" or (t.loss == "auto" and device.type == "cuda")
    loss_module = wrap_ddp(_LossModule(model, paths, balancer, batched), dd, device)
    if dd.main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(run.to_dict(), sort_keys=False))
    logger = _Logger(out, dd.main, t.tensorboard, state.global_step)
    card = {
        "run": run.to_dict(),
        "run_name": run.run_name,
        "data": run.to_dict()["data"],
        "validation": validation,
    }
    if init is not None:
        card["init"] = init  # where a shipped model started from

    def save_resumable() -> None:
        if dd.main:
            tree = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "rng": rng_state(),
                "balance": balancer.state_dict(),
            }
            state_run = _state_run(run, legacy)
            info = {
                "run": state_run,
                "init": init,
                "val_depth_input": val_input,
                **state.to_json(),
            }
            save_state(out, state.global_step, tree, info)

    # -------------------------------------------------------------- the loop
    t0 = time.perf_counter()
    # A resumed run that had already early-stopped stays stopped (raise train.patience to go on).
    status = "early_stopped" if state.bad_epochs >= t.patience else "finished"
    first = t.epochs if status == "early_stopped" else state.epoch
    try:
        with _StopFlag() as stop:
            for epoch in range(first, t.epochs):
                # ---- train over the rest of the epoch
                state.epoch = epoch
                balancer.start_epoch(state.history)
                sampler.set_epoch(epoch, start=state.step_in_epoch)
                if isinstance(train_ds, TrainTransform):
                    train_ds.set_epoch(epoch)  # its draws depend on (seed, epoch, index) only
                steps = min(len(sampler), t.max_steps_per_epoch or len(sampler))
                bar = _bar(dd.main and t.progress, steps, state.step_in_epoch, epoch, t.epochs)
                tick = time.perf_counter()
                for batch in _epoch_iter(loader, steps, state.step_in_epoch):
                    # Checked before the forward: a discarded forward would still move BatchNorm.
                    if any_rank(stop.requested, dd, device):
                        status = "interrupted"
                        break
                    batch = _to(batch, device)
                    loss, per_path = loss_module(batch)
                    if any_rank(not bool(torch.isfinite(loss)), dd, device):
                        _diverged(out, epoch, state, loss, per_path)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if t.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                    opt.step()
                    step_loss = float(loss.detach())
                    state.acc.add(
                        step_loss,
                        batch["rgb"].shape[0] * dd.world,
                        time.perf_counter() - tick,
                        {path_name(p): float(v.detach()) for p, v in per_path.items()},
                    )
                    state.step_in_epoch += 1
                    state.global_step += 1
                    if dd.main:
                        logger.step(state.global_step, step_loss)
                    if on_step is not None:
                        on_step(epoch, state.global_step)
                    tick = time.perf_counter()
                    bar.update(1)
                    bar.set_postfix(loss=f"{step_loss:.3f}", img_s=f"{_img_s(state):.1f}")
                bar.close()
                if status == "interrupted":  # a resumable state, and `last` to look at
                    sync_buffers(model, dd)
                    save_resumable()
                    if dd.main:
                        save_checkpoint(
                            out / "last", model, epoch=epoch, step=state.global_step, **card
                        )
                    break

                # ---- validate; keep best/last; early stopping
                sync_buffers(model, dd)
                val = _validate(model, val_loader, paths, weights, monitor, device)
                if state.val_ref is None:
                    state.val_ref = {f"val_{path_name(p)}": val[f"val_{path_name(p)}"]
                                     for p in monitor if f"val_{path_name(p)}" in val}  # fmt: skip
                score = criterion(val, monitor, state.val_ref, t.criterion)
                means = state.acc.means()
                train_paths = {k: means.pop(k) for k in list(means) if k != "train_loss"}
                row = {
                    "epoch": epoch + 1,
                    "global_step": state.global_step,
                    **means,
                    **val,
                    "val_score": score,
                    **train_paths,
                    "lr": opt.param_groups[0]["lr"],
                    "images_per_s": _img_s(state),
                    "epoch_seconds": state.acc.seconds,
                    **{f"weight_{k}": v for k, v in balancer.describe().items()},
                }
                state.history.append(row)
                improved = score < state.best_val - t.min_delta
                if improved:
                    state.best_val, state.best_epoch, state.bad_epochs = score, epoch + 1, 0
                else:
                    state.bad_epochs += 1
                state.epoch, state.step_in_epoch, state.acc = epoch + 1, 0, EpochStats()
                if dd.main:
                    extras = dict(
                        epoch=epoch + 1, step=state.global_step, val_loss=val["val_loss"],
                        val_score=score, **card,
                    )  # fmt: skip
                    if improved:
                        save_checkpoint(out / "best", model, **extras)
                    save_checkpoint(out / "last", model, **extras)
                    logger.epoch(state.history)
                save_resumable()
                if dd.main:
                    print(
                        f"[mmed-train] epoch {epoch + 1}/{t.epochs} train {row['train_loss']:.4f}"
                        f" val {val['val_loss']:.4f} ({t.criterion} {score:.4f})"
                        f"{' *' if improved else ''}",
                        flush=True,
                    )
                if state.bad_epochs >= t.patience:
                    status = "early_stopped"
                    break
    except DivergedError:
        # A summary that says so, so a study evaluates the best checkpoint before the divergence
        # and reports the run as diverged instead of retrying it forever.
        if dd.main:
            _summary(out, _result("diverged", out, state, t0, model), run, init, validation)
        raise
    finally:
        logger.close()

    result = _result(status, out, state, t0, model)
    if dd.main:
        _summary(out, result, run, init, validation)
    barrier(dd)
    return result


def _result(status: str, out: Path, state: RunState, t0: float, model: nn.Module) -> TrainResult:
    hist = state.history
    images = sum(r["images_per_s"] * r["epoch_seconds"] for r in hist)
    return TrainResult(
        status,
        str(out),
        state.epoch,
        state.global_step,
        state.best_epoch,
        state.best_val,
        time.perf_counter() - t0,
        images / max(sum(r["epoch_seconds"] for r in hist), 1e-9),
        hist,
        model,
    )


def _img_s(state: RunState) -> float:
    return state.acc.images / max(state.acc.seconds, 1e-9)


def _bar(enabled: bool, total: int, start: int, epoch: int, epochs: int) -> Any:
    # A bar on a terminal; in a log or CI (where a carriage-return bar would flood the file) a
    # plain line a minute during a long epoch, none for a short one: the per-epoch line follows.
    return progress(
        total,
        f"epoch {epoch + 1}/{epochs}",
        "batch",
        enabled=enabled,
        initial=start,
        leave=False,
        every=60.0,
        quiet_under=float("inf"),
    )


def _diverged(out: Path, epoch: int, st: RunState, loss: torch.Tensor, per_path: dict) -> None:
    parts = ", ".join(f"{s}->{d}={float(v.detach()):.4g}" for (s, d), v in per_path.items())
    last = out / "last.safetensors"
    keep = (
        f"the last good checkpoint {last} (epoch {st.epoch}) is kept"
        if last.exists()
        else "no checkpoint was written before it"
    )
    raise DivergedError(
        f"loss became {float(loss.detach())} at epoch {epoch + 1}, step {st.global_step + 1} "
        f"(per path: {parts}); training stopped and {keep}. Lower train.lr or set "
        "train.grad_clip."
    )


def _summary(
    out: Path,
    r: TrainResult,
    run: RunConfig,
    init: dict[str, Any] | None,
    validation: dict[str, Any],
) -> None:

    summary = {
        f.name: getattr(r, f.name)
        for f in dataclasses.fields(r)
        if f.name not in ("history", "model")
    }
    summary.update(
        run=run.run_name,
        recipe=run.train.recipe,
        recipe_values=recipe_values(run.train),
        best=str(out / "best.safetensors"),
        last=str(out / "last.safetensors"),
        final=r.history[-1] if r.history else None,
        init=init,
        validation=validation,
    )
    atomic_write_json(out / "summary.json", summary)
    print(
        f"[mmed-train] {run.run_name} (recipe {run.train.recipe}): {r.status} after "
        f"{r.epochs_done} epoch(s), "
        f"{r.global_step} steps, {r.seconds:.1f} s, {r.images_per_s:.1f} images/s; "
        f"best val {run.train.criterion} {r.best_val:.4f} at epoch "
        f"{r.best_epoch}; checkpoints in {out}"
        + (" (validated on the training frames, see above)" if validation["why"] else ""),
        flush=True,
    )
