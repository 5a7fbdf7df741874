# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The offline trainer of every method of the paper's Table 1 (paper §3.2-3.3).

    mmed-train --config config/train_synthetic.yaml train.epochs=5
    torchrun --nproc_per_node=2 -m mmed_core.cli.train --config config/train_nyudv2.yaml

Reads top to bottom like nanoGPT's train.py: build data, model and optimiser; optionally resume;
then per epoch: train over the paired/unpaired batch sampler with the multi-path loss, validate,
early-stop, write ``best``/``last`` checkpoints and the resumable state. The out_dir holds
``best.*``, ``last.*`` (model checkpoints), ``state.json`` + ``state-*.safetensors`` (resume),
``log.csv``, ``tb/`` (TensorBoard), ``config.yaml`` and ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import math
import os
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
from mmed_core.data.collate import collate
from mmed_core.deploy.checkpoint import save_checkpoint
from mmed_core.errors import CheckpointError, ConfigError, MmedError
from mmed_core.network.batched_loss import batched_multipath_loss
from mmed_core.network.factory import create_model
from mmed_core.network.losses import multipath_loss
from mmed_core.training.config import RunConfig, model_config_for
from mmed_core.training.sampler import PairedBatchSampler
from mmed_core.training.state import (
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
    "build_datasets",
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
)


class DivergedError(MmedError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    status: str  # finished | early_stopped | interrupted
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
    run: RunConfig, factory: DatasetFactory | None = None
) -> tuple[Dataset, list[bool], Dataset, Any]:
    """(train set incl. unpaired extra, paired flags, validation set, dataset info)."""
    factory = factory or _default_factory()
    d = run.data
    kw = dict(root=d.root, size=tuple(d.size), cache_dir=d.cache_dir, options=dict(d.options))
    train_ds = factory(d.dataset, d.train_split, **kw)
    val_ds = factory(d.dataset, d.val_split, **kw)
    paired = [True] * len(train_ds)
    if d.extra:
        extra = factory(d.dataset, "extra", **kw)
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
    return train_ds, paired, val_ds, val_ds.info


# ---------------------------------------------------------------------------- distributed
@dataclasses.dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def on(self) -> bool:
        return self.world > 1


def _init_distributed(device_opt: str) -> tuple[_Dist, torch.device]:
    """torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; gloo on CPU, nccl on GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want_cuda = device_opt.startswith("cuda") or (
        device_opt == "auto" and torch.cuda.is_available()
    )
    if device_opt.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"train.device={device_opt!r} but CUDA is not available; use cpu or auto"
        )
    if world <= 1:
        return _Dist(), torch.device(
            device_opt if device_opt != "auto" else ("cuda" if want_cuda else "cpu")
        )
    import torch.distributed as dist

    dd = _Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    if want_cuda:
        torch.cuda.set_device(dd.local_rank)
        return dd, torch.device("cuda", dd.local_rank)
    return dd, torch.device("cpu")


def _any_rank(flags: list[bool], dd: _Dist, device: torch.device) -> list[bool]:
    """Logical OR of each flag over all ranks, so every rank takes the same branch."""
    if not dd.on:
        return flags
    import torch.distributed as dist

    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t)
    return [bool(v > 0) for v in t.tolist()]


def _sync_buffers(model: nn.Module, dd: _Dist) -> None:
    """BatchNorm running stats drift per rank between DDP's broadcasts; take rank 0's."""
    if dd.on:
        import torch.distributed as dist

        for b in model.buffers():
            dist.broadcast(b, 0)


class _LossModule(nn.Module):
    """Puts the multi-path loss inside ``forward`` so DDP sees (and syncs) every path."""

    def __init__(
        self, model: nn.Module, paths: tuple, weights: dict[str, float], batched: bool = False
    ) -> None:
        super().__init__()
        self.model, self.paths, self.weights = model, paths, weights
        self.loss_fn = batched_multipath_loss if batched else multipath_loss

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        return self.loss_fn(self.model, batch, self.paths, self.weights)


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
def _optimizer(model: nn.Module, run: RunConfig) -> torch.optim.Optimizer:
    t = run.train
    if t.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay
    )


def _monitor_paths(paths: tuple, monitor: str) -> tuple:
    """`main`: the paper's tasks, RGB -> depth/label (RGB -> RGB for an RGB-only model)."""
    if monitor == "all":
        return paths
    main = tuple(p for p in paths if p[0] == "rgb" and p[1] != "rgb")
    return main or paths


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def _validate(
    model: nn.Module,
    loader: DataLoader,
    paths: tuple,
    weights: dict,
    monitor: tuple,
    device: torch.device,
) -> dict[str, float]:
    """Sample-weighted mean of each path's loss over the validation set (model in eval mode)."""
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
    out.update({f"val_{s}2{d}": v for (s, d), v in means.items()})
    return out


def _check_resume(run: RunConfig, saved: dict[str, Any], out: Path) -> None:
    now, then = _flat(run.to_dict()), _flat(saved)
    diff = {
        k: (then.get(k), now.get(k))
        for k in sorted(set(now) | set(then))
        if now.get(k) != then.get(k) and not k.startswith(RESUMABLE_CHANGES)
    }
    if diff:
        raise CheckpointError(
            f"{out}/state.json was written by a different config; differing keys "
            f"(saved, now): {diff}. Only {list(RESUMABLE_CHANGES)} may change on resume."
        )


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k not in ("options", "loss_weights"):
            out.update(_flat(v, key + "."))
        else:
            out[key] = list(v) if isinstance(v, tuple) else v
    return out


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
    t = run.train
    out = run.out_dir
    if resume:
        state_info = read_state(out)
        _check_resume(run, state_info["run"], out)
    elif (out / "state.json").exists():
        raise ConfigError(
            f"{out} already holds a run (state.json); pass --resume to continue it or set "
            "train.out_dir to a new folder"
        )
    dd, device = _init_distributed(t.device)
    threads_before = torch.get_num_threads()
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    try:
        return _run(run, resume, dataset_factory, on_step, dd, device)
    finally:
        torch.set_num_threads(threads_before)  # a library call leaves the process as it found it


def _new_acc() -> dict[str, float]:
    return {"loss": 0.0, "n": 0, "images": 0, "seconds": 0.0}


class _Loop:
    """The state of one run and its three moves: a step, an epoch's end, a resumable save."""

    def __init__(
        self,
        run: RunConfig,
        resume: bool,
        dataset_factory: DatasetFactory | None,
        on_step: Callable[[int, int], None] | None,
        dd: _Dist,
        device: torch.device,
    ) -> None:
        t, out = run.train, run.out_dir
        self.run, self.t, self.out, self.dd, self.device, self.on_step = (
            run,
            t,
            out,
            dd,
            device,
            on_step,
        )
        self.main = dd.rank == 0
        state_info = read_state(out) if resume else None
        torch.manual_seed(t.seed)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = False
        train_ds, paired, val_ds, info = build_datasets(run, dataset_factory)
        cfg = model_config_for(run, info)
        self.model = create_model(cfg).to(device)
        self.paths = cfg.paths()
        self.weights = {k: float(v) for k, v in t.loss_weights.items()}
        unknown_w = sorted(set(self.weights) - set(cfg.decoder_modalities))
        if unknown_w:
            raise ConfigError(
                f"train.loss_weights names {unknown_w}; "
                f"this model decodes {list(cfg.decoder_modalities)}"
            )
        self.monitor = _monitor_paths(self.paths, t.monitor)
        self.opt = _optimizer(self.model, run)
        self.sampler = PairedBatchSampler(
            paired, t.batch_size, seed=t.seed, rank=dd.rank, world_size=dd.world
        )
        # The loader gets its own generator so it never draws from the global RNG (resume-exact).
        self.loader = DataLoader(
            train_ds,
            batch_sampler=self.sampler,
            collate_fn=collate,
            num_workers=t.num_workers,
            generator=torch.Generator().manual_seed(t.seed),
            pin_memory=device.type == "cuda",
        )
        self.val_loader = DataLoader(
            val_ds,
            batch_size=t.batch_size,
            shuffle=False,
            collate_fn=collate,
            num_workers=t.num_workers,
        )
        self.st: dict[str, Any] = {
            "epoch": 0,
            "step_in_epoch": 0,
            "global_step": 0,
            "best_val": math.inf,
            "best_epoch": -1,
            "bad_epochs": 0,
            "history": [],
            "acc": _new_acc(),
        }
        if state_info is not None:
            tensors = load_state_tensors(out, state_info)
            self.model.load_state_dict(tensors["model"])
            self.opt.load_state_dict(tensors["optimizer"])
            set_rng_state(tensors["rng"])
            self.st = {k: state_info[k] for k in self.st}
        batched = t.loss == "batched" or (t.loss == "auto" and device.type == "cuda")
        self.wrapped: nn.Module = _LossModule(self.model, self.paths, self.weights, batched)
        if dd.on:
            self.wrapped = nn.parallel.DistributedDataParallel(
                self.wrapped,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=True,
            )  # batches without paired samples on a rank skip decoders
        if self.main:
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "config.yaml", yaml.safe_dump(run.to_dict(), sort_keys=False))
        self.logger = _Logger(out, self.main, t.tensorboard, self.st["global_step"])
        self.card_extras = {
            "run": run.to_dict(),
            "run_name": run.run_name,
            "data": run.to_dict()["data"],
        }

    def step(self, batch: dict[str, torch.Tensor], epoch: int, tick: float) -> float:
        """One optimiser step; returns the loss. Raises DivergedError on a non-finite loss."""
        batch = _to(batch, self.device)
        loss, per_path = self.wrapped(batch)
        if _any_rank([not bool(torch.isfinite(loss))], self.dd, self.device)[0]:
            _diverged(self.out, epoch, self.st, loss, per_path)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.t.grad_clip)
        self.opt.step()
        step_loss = float(loss.detach())
        acc, st = self.st["acc"], self.st
        acc.update(
            loss=acc["loss"] + step_loss,
            n=acc["n"] + 1,
            seconds=acc["seconds"] + time.perf_counter() - tick,
            images=acc["images"] + batch["rgb"].shape[0] * self.dd.world,
        )
        st["step_in_epoch"] += 1
        st["global_step"] += 1
        if self.main:
            self.logger.step(st["global_step"], step_loss)
        if self.on_step is not None:
            self.on_step(epoch, st["global_step"])
        return step_loss

    def train_epoch(self, epoch: int, stop: _StopFlag) -> bool:
        """Train over the rest of ``epoch``; True if a stop was requested (state saved)."""
        st, t = self.st, self.t
        st["epoch"] = epoch
        self.sampler.set_epoch(epoch, start=st["step_in_epoch"])
        steps = min(len(self.sampler), t.max_steps_per_epoch or len(self.sampler))
        bar = _bar(self.main and t.progress, steps, st["step_in_epoch"], epoch, t.epochs)
        tick = time.perf_counter()
        for batch in _epoch_iter(self.loader, steps, st["step_in_epoch"]):
            # Checked before the forward pass: a discarded forward would still move BatchNorm
            # stats.
            if _any_rank([stop.requested], self.dd, self.device)[0]:
                _close(bar)
                self.save_interrupted(epoch)
                return True
            loss = self.step(batch, epoch, tick)
            tick = time.perf_counter()
            if bar is not None:
                acc = st["acc"]
                bar.update(1)
                bar.set_postfix(
                    loss=f"{loss:.3f}", img_s=f"{acc['images'] / max(acc['seconds'], 1e-9):.1f}"
                )
        _close(bar)
        return False

    def end_epoch(self, epoch: int) -> bool:
        """Validate, keep best/last, log and save the resumable state; True to stop early."""
        st, t = self.st, self.t
        _sync_buffers(self.model, self.dd)
        val = _validate(
            self.model, self.val_loader, self.paths, self.weights, self.monitor, self.device
        )
        acc = st["acc"]
        row = {
            "epoch": epoch + 1,
            "global_step": st["global_step"],
            "train_loss": acc["loss"] / max(acc["n"], 1),
            **val,
            "lr": self.opt.param_groups[0]["lr"],
            "images_per_s": acc["images"] / max(acc["seconds"], 1e-9),
            "epoch_seconds": acc["seconds"],
        }
        st["history"].append(row)
        improved = val["val_loss"] < st["best_val"] - t.min_delta
        if improved:
            st.update(best_val=val["val_loss"], best_epoch=epoch + 1, bad_epochs=0)
        else:
            st["bad_epochs"] += 1
        st.update(epoch=epoch + 1, step_in_epoch=0, acc=_new_acc())
        if self.main:
            extras = dict(
                epoch=epoch + 1,
                step=st["global_step"],
                val_loss=val["val_loss"],
                **self.card_extras,
            )
            if improved:
                save_checkpoint(self.out / "best", self.model, **extras)
            save_checkpoint(self.out / "last", self.model, **extras)
            self.logger.epoch(st["history"])
        self.save_resumable()
        if self.main:
            print(
                f"[mmed-train] epoch {epoch + 1}/{t.epochs} train {row['train_loss']:.4f} "
                f"val {val['val_loss']:.4f}{' *' if improved else ''}",
                flush=True,
            )
        return st["bad_epochs"] >= t.patience

    def save_interrupted(self, epoch: int) -> None:
        _sync_buffers(self.model, self.dd)
        self.save_resumable()
        if self.main:
            save_checkpoint(
                self.out / "last",
                self.model,
                epoch=epoch,
                step=self.st["global_step"],
                **self.card_extras,
            )

    def save_resumable(self) -> None:
        if self.main:
            tree = {
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "rng": rng_state(),
            }
            save_state(
                self.out, self.st["global_step"], tree, {"run": self.run.to_dict(), **self.st}
            )

    def result(self, status: str, seconds: float) -> TrainResult:
        st = self.st
        hist = st["history"]
        images = sum(r["images_per_s"] * r["epoch_seconds"] for r in hist)
        return TrainResult(
            status,
            str(self.out),
            st["epoch"],
            st["global_step"],
            st["best_epoch"],
            st["best_val"],
            seconds,
            images / max(sum(r["epoch_seconds"] for r in hist), 1e-9),
            hist,
            self.model,
        )


def _run(
    run: RunConfig,
    resume: bool,
    dataset_factory: DatasetFactory | None,
    on_step: Callable[[int, int], None] | None,
    dd: _Dist,
    device: torch.device,
) -> TrainResult:
    loop = _Loop(run, resume, dataset_factory, on_step, dd, device)
    t0 = time.perf_counter()
    # A resumed run that had already early-stopped stays stopped (raise train.patience to go on).
    status = "early_stopped" if loop.st["bad_epochs"] >= run.train.patience else "finished"
    first = run.train.epochs if status == "early_stopped" else loop.st["epoch"]
    try:
        with _StopFlag() as stop:
            for epoch in range(first, run.train.epochs):
                if loop.train_epoch(epoch, stop):
                    status = "interrupted"
                    break
                if loop.end_epoch(epoch):
                    status = "early_stopped"
                    break
    finally:
        loop.logger.close()
    result = loop.result(status, time.perf_counter() - t0)
    if loop.main:
        _summary(run.out_dir, result, run)
    if dd.on:
        import torch.distributed as dist

        dist.barrier()
    return result


def _close(bar: Any) -> None:
    if bar is not None:
        bar.close()


def _bar(enabled: bool, total: int, start: int, epoch: int, epochs: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=start,
        desc=f"epoch {epoch + 1}/{epochs}",
        unit="batch",
        leave=False,
        dynamic_ncols=True,
    )


def _diverged(
    out: Path, epoch: int, st: dict[str, Any], loss: torch.Tensor, per_path: dict
) -> None:
    parts = ", ".join(f"{s}->{d}={float(v.detach()):.4g}" for (s, d), v in per_path.items())
    last = out / "last.safetensors"
    keep = (
        f"the last good checkpoint {last} (epoch {st['epoch']}) is kept"
        if last.exists()
        else "no checkpoint was written before it"
    )
    raise DivergedError(
        f"loss became {float(loss.detach())} at epoch {epoch + 1}, step {st['global_step'] + 1} "
        f"(per path: {parts}); training stopped and {keep}. Lower train.lr or set "
        "train.grad_clip."
    )


def _summary(out: Path, r: TrainResult, run: RunConfig) -> None:

    summary = {
        f.name: getattr(r, f.name)
        for f in dataclasses.fields(r)
        if f.name not in ("history", "model")
    }
    summary.update(
        run=run.run_name,
        best=str(out / "best.safetensors"),
        last=str(out / "last.safetensors"),
        final=r.history[-1] if r.history else None,
    )
    atomic_write_json(out / "summary.json", summary)
    print(
        f"[mmed-train] {run.run_name}: {r.status} after {r.epochs_done} epoch(s), "
        f"{r.global_step} steps, {r.seconds:.1f} s, {r.images_per_s:.1f} images/s; "
        f"best val loss {r.best_val:.4f} at epoch "
        f"{r.best_epoch}; checkpoints in {out}",
        flush=True,
    )
