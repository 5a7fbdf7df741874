# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""The resumable training state, pickle-free: tensors in safetensors, everything else in JSON.

:class:`RunState` is where a run stands (epoch, step, best value, history); it is saved with the
model, optimiser, loss-balancing and RNG tensors after every epoch and on a stop request.

    python -c "from mmed_core.training.state import read_state; \
        print(read_state('runs/synthetic-mmed')['epoch'])"

``state.json`` is the commit point: it names ``state-<step>.safetensors`` (model weights and
buffers, optimiser tensors, RNG states) and its sha256. Both are written atomically and the JSON
last, so a crash at any moment leaves the previous consistent pair; older tensor files are
removed only after the new JSON is in place. Nothing is ever unpickled on load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from mmed_core.atomic import atomic_path, atomic_write_json
from mmed_core.deploy.checkpoint import read_format_json
from mmed_core.errors import CheckpointError

__all__ = [
    "RunState",
    "EpochStats",
    "save_state",
    "read_state",
    "load_state_tensors",
    "flatten_tensors",
    "unflatten_tensors",
    "rng_state",
    "set_rng_state",
    "STATE_FORMAT",
]

STATE_FORMAT = "mmed-train-state/1"


@dataclasses.dataclass
class EpochStats:
    """What the current epoch has trained so far (reset at every epoch's end)."""

    loss: float = 0.0  # sum of the step losses
    n: int = 0  # steps
    images: int = 0  # images over all processes
    seconds: float = 0.0  # time in steps (data loading included, validation not)
    path_sums: dict[str, float] = dataclasses.field(default_factory=dict)  # per-path loss sums
    path_steps: dict[str, int] = dataclasses.field(default_factory=dict)  # steps with that path

    def add(self, loss: float, images: int, seconds: float, per_path: dict[str, float]) -> None:
        self.loss += loss
        self.n += 1
        self.images += images
        self.seconds += seconds
        for k, v in per_path.items():
            self.path_sums[k] = self.path_sums.get(k, 0.0) + v
            self.path_steps[k] = self.path_steps.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        """``train_loss`` and ``train_<src>2<dst>``: the epoch's mean step losses."""
        out = {"train_loss": self.loss / max(self.n, 1)}
        out.update({f"train_{k}": s / self.path_steps[k] for k, s in self.path_sums.items()})
        return out


@dataclasses.dataclass
class RunState:
    """Where a run stands; saved in ``state.json`` after every epoch and on a stop request."""

    epoch: int = 0  # the epoch being trained (== epochs done once it has ended)
    step_in_epoch: int = 0  # steps of ``epoch`` already trained (resume skips them)
    global_step: int = 0
    best_val: float = math.inf  # best value of the selection criterion (lower is better)
    best_epoch: int = -1  # 1-based epoch of best.safetensors
    bad_epochs: int = 0  # epochs since the last improvement (early stopping)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # one row per epoch
    acc: EpochStats = dataclasses.field(default_factory=EpochStats)
    # Each monitored path's validation loss at the first validation (the normalised criterion).
    val_ref: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunState:
        """From a ``state.json``'s entries (older states lack the newer fields: defaults)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["acc"] = EpochStats(**d.get("acc", {}))
        return cls(**kw)


def flatten_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON skeleton of ``obj`` whose tensors are moved to ``tensors`` under dotted keys.

    Dicts keep their key types (optimiser state is keyed by int) as lists of [key, value] pairs.
    """
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().to("cpu").contiguous()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {
            "__dict__": [[k, flatten_tensors(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]
        }
    if isinstance(obj, (list, tuple)):
        return [flatten_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise CheckpointError(
        f"cannot store a {type(obj).__name__} at `{prefix}` in the training state "
        "(expected tensors, dicts, lists and JSON scalars)"
    )


def unflatten_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: unflatten_tensors(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [unflatten_tensors(v, tensors) for v in obj]
    return obj


def rng_state() -> dict[str, Any]:
    """Every global RNG the trainer might touch (torch CPU/CUDA, numpy, python)."""
    np_state: Any = np.random.get_state()  # the legacy 5-tuple (its stub says dict | tuple)
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_state(
    out_dir: str | Path, step: int, tensor_tree: dict[str, Any], info: dict[str, Any]
) -> Path:
    """Write ``state-<step>.safetensors`` and then ``state.json``; return the JSON path."""

    out = Path(out_dir)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_tensors(tensor_tree, "s", tensors)
    name = f"state-{step:09d}.safetensors"
    with atomic_path(out / name) as tmp:
        safetensors.torch.save_file(tensors, str(tmp))
    old = read_state(out)["tensors"]["file"] if (out / "state.json").is_file() else None
    path = out / "state.json"
    atomic_write_json(
        path,
        {
            "format": STATE_FORMAT,
            **info,
            "skeleton": skeleton,
            "tensors": {"file": name, "sha256": _sha256(out / name)},
        },
    )
    if old and old != name:
        (out / old).unlink(missing_ok=True)
    return path


def read_state(out_dir: str | Path) -> dict[str, Any]:
    return read_format_json(
        Path(out_dir) / "state.json",
        STATE_FORMAT,
        "training state",
        "no resumable training state (expected state.json written by "
        "mmed-train in the run's out_dir)",
    )


def load_state_tensors(out_dir: str | Path, info: dict[str, Any]) -> dict[str, Any]:
    """The tensor tree saved with ``info`` (checked against its sha256)."""

    path = Path(out_dir) / info["tensors"]["file"]
    if not path.is_file():
        raise CheckpointError(
            f"{path}: tensors of the training state not found (state.json names it)"
        )
    if _sha256(path) != info["tensors"]["sha256"]:
        raise CheckpointError(f"{path}: sha256 does not match state.json; the file was modified")
    return unflatten_tensors(info["skeleton"], safetensors.torch.load_file(str(path)))
