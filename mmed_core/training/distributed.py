# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The trainer's DistributedDataParallel helpers: one process per device, started by torchrun.

    torchrun --nproc_per_node=2 -m mmed_core.cli.train --config config/train_nyudv2.yaml

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; :func:`init_distributed` reads them and joins the
process group (gloo on CPU, nccl on GPU). Without them every helper here is a no-op, so the
single-process trainer runs the same code.
"""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist
from torch import nn

from mmed_core.errors import ConfigError

__all__ = ["Dist", "init_distributed", "any_rank", "sync_buffers", "wrap_ddp", "barrier"]


@dataclasses.dataclass(frozen=True)
class Dist:
    """This process's place in the job (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def on(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0 writes files and prints."""
        return self.rank == 0


def init_distributed(device_opt: str) -> tuple[Dist, torch.device]:
    """(this process's Dist, its device) for ``train.device`` (auto | cpu | cuda | cuda:N)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want_cuda = device_opt.startswith("cuda") or (
        device_opt == "auto" and torch.cuda.is_available()
    )
    if device_opt.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"train.device={device_opt!r} but CUDA is not available; use cpu or auto"
        )
    if world <= 1:
        return Dist(), torch.device(
            device_opt if device_opt != "auto" else ("cuda" if want_cuda else "cpu")
        )

    dd = Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    if want_cuda:
        torch.cuda.set_device(dd.local_rank)
        return dd, torch.device("cuda", dd.local_rank)
    return dd, torch.device("cpu")


def any_rank(flag: bool, dd: Dist, device: torch.device) -> bool:
    """Logical OR of ``flag`` over all ranks, so every rank takes the same branch."""
    if not dd.on:
        return flag

    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def sync_buffers(model: nn.Module, dd: Dist) -> None:
    """BatchNorm running stats drift per rank between DDP's broadcasts; take rank 0's."""
    if dd.on:
        for b in model.buffers():
            dist.broadcast(b, 0)


def wrap_ddp(module: nn.Module, dd: Dist, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel when there are several processes, else as is."""
    if not dd.on:
        return module
    return nn.parallel.DistributedDataParallel(
        module,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=True,  # batches without paired samples on a rank skip decoders
    )


def barrier(dd: Dist) -> None:
    if dd.on:
        dist.barrier()
