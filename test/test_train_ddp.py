# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""DDP on CPU: two gloo processes on 127.0.0.1 train one model and end with identical weights.

python -m pytest test/test_train_ddp.py
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    # What torchrun sets; the trainer reads it and picks gloo because there is no GPU.
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    import torch.distributed as dist
    from test_train_support import factory, tiny_run

    from mmed_core.training.trainer import train

    result = train(
        tiny_run(Path(out) / "run", "train.epochs=2", "data.extra=true"), dataset_factory=factory
    )
    state = {k: v.detach().clone().contiguous() for k, v in result.model.state_dict().items()}
    save_file(state, str(Path(out) / f"rank{rank}.safetensors"))
    (Path(out) / f"rank{rank}.steps").write_text(str(result.global_step))
    dist.destroy_process_group()


def test_two_cpu_processes_end_with_identical_weights(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    saved = load_file(str(tmp_path / "run" / "last.safetensors"))
    assert r0.keys() == r1.keys() == saved.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        assert torch.equal(r0[k], saved[k]), k
    # 16 paired + 16 unpaired samples, batches of 4 -> 8 batches, 4 per rank per epoch, 2 epochs.
    assert (tmp_path / "rank0.steps").read_text() == (tmp_path / "rank1.steps").read_text() == "8"
