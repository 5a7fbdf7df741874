# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Trainer faults: SIGKILL mid-epoch and mid-write, disk full, then --resume loses nothing.

    python -m pytest test/test_reliability_trainer.py            # quick rows
    python -m pytest test/test_reliability_trainer.py -m slow    # every kill point

A child process trains the tiny stand-in run of test_train_support and SIGKILLs itself at a
chosen point (a step, or just before/after one of the renames that commit a file). The parent
then checks what a user would find on disk, resumes, and compares the final weights with an
uninterrupted run bit for bit: exact resume means no work beyond the last save was lost and
nothing wrong was loaded.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_train_support import factory, tiny_run

from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.errors import CheckpointError
from mmed_core.training.state import load_state_tensors, read_state
from mmed_core.training.trainer import train

TEST_DIR = Path(__file__).resolve().parent
EPOCHS = 2  # 24 training samples / batch 4 = 6 steps per epoch

# Runs in the child: train, and SIGKILL this process at the point named by argv[2]:
#   step:N                     after global step N (mid-epoch)
#   truncate:NAME:K            while the K-th temporary file for NAME is half written
#   replace:NAME:K:before|after  around the K-th atomic rename onto NAME
_CHILD = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[3])
import mmed_core.atomic as mio
from mmed_core.training.trainer import train
from test_train_support import factory, tiny_run

out, where = sys.argv[1], sys.argv[2]
kind, *arg = where.split(":")
seen = {}

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def nth(name):
    seen[name] = seen.get(name, 0) + 1
    return seen[name]

hook = None
if kind == "step":
    hook = lambda epoch, step: die() if step == int(arg[0]) else None
elif kind == "truncate":
    import safetensors.torch as st
    real_save = st.save_file
    def half_then_die(tensors, filename, metadata=None):
        real_save(tensors, filename, metadata=metadata)
        if os.path.basename(filename).startswith("." + arg[0]) and nth(arg[0]) == int(arg[1]):
            os.truncate(filename, os.path.getsize(filename) // 2)
            die()
    st.save_file = half_then_die
elif kind == "replace":
    real_replace = os.replace
    def replace_then_die(src, dst, *a, **kw):
        hit = os.path.basename(str(dst)).startswith(arg[0]) and nth(arg[0]) == int(arg[1])
        if hit and arg[2] == "before":
            die()
        real_replace(src, dst, *a, **kw)
        if hit:
            die()
    mio.os.replace = replace_then_die
train(tiny_run(out, "train.epochs=%d"), dataset_factory=factory, on_step=hook)
sys.exit(3)  # the kill point was never reached
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """Final weights of the uninterrupted run."""
    out = tmp_path_factory.mktemp("ref") / "run"
    train(tiny_run(out, f"train.epochs={EPOCHS}"), dataset_factory=factory)
    return load_file(str(out / "last.safetensors"))


def _killed_at(out: Path, where: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD % EPOCHS, str(out), where, str(TEST_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, f"{where}: exit {proc.returncode}\n{proc.stderr}"


def _assert_resume_is_exact(out: Path, reference: dict[str, torch.Tensor]) -> None:
    r = train(tiny_run(out, f"train.epochs={EPOCHS}"), dataset_factory=factory, resume=True)
    assert r.status == "finished" and r.epochs_done == EPOCHS
    got = load_file(str(out / "last.safetensors"))
    assert got.keys() == reference.keys()
    for k in got:
        torch.testing.assert_close(got[k], reference[k], rtol=0, atol=0, msg=k)
    model, card = load_checkpoint(out / "best.safetensors")
    assert card["epoch"] >= 1


def _assert_on_disk_state_is_consistent(out: Path, min_epoch: int) -> None:
    """What survives a kill: a readable state.json whose tensors match it, and checkpoints that
    either load or are refused (never loaded with the wrong weights)."""
    info = read_state(out)
    assert info["epoch"] >= min_epoch, info["epoch"]
    load_state_tensors(out, info)  # sha256-checked
    for name in ("last", "best"):
        if (out / f"{name}.json").exists():
            _, card = load_checkpoint(out / f"{name}.safetensors")
            assert card["epoch"] >= min_epoch


# (kill point, epochs whose state must survive). Each row is one SIGKILL in a different place.
QUICK = [
    ("step:8", 1),  # mid-epoch 2: epoch 1 is saved, steps 7-8 are redone
    ("truncate:last.safetensors:2", 1),  # half-written weights of epoch 2's `last`
]
SLOW = [
    ("replace:state.json:2:before", 1),  # epoch 2's state tensors written, state.json not yet
    ("step:3", 0),  # mid-epoch 1: nothing saved yet, starts over
    ("truncate:state-:2", 1),  # half-written state tensors
    ("replace:last.safetensors:2:before", 1),
    ("replace:best.json:1:before", 0),
    ("replace:state.json:2:after", 2),  # new state.json, old tensors not yet removed
]


def _kill_and_resume(
    tmp_path: Path, reference: dict[str, torch.Tensor], where: str, min_epoch: int
) -> None:
    out = tmp_path / "run"
    _killed_at(out, where)
    if (out / "state.json").exists():
        _assert_on_disk_state_is_consistent(out, min_epoch)
        _assert_resume_is_exact(out, reference)
    else:  # killed before the first save: --resume says so, a fresh start works
        assert min_epoch == 0
        with pytest.raises(CheckpointError, match="no resumable training state"):
            train(tiny_run(out, f"train.epochs={EPOCHS}"), dataset_factory=factory, resume=True)


@pytest.mark.parametrize("where,min_epoch", QUICK)
def test_sigkill_then_resume_loses_nothing(
    tmp_path: Path, reference: dict, where: str, min_epoch: int
) -> None:
    _kill_and_resume(tmp_path, reference, where, min_epoch)


@pytest.mark.slow
@pytest.mark.parametrize("where,min_epoch", SLOW)
def test_sigkill_then_resume_loses_nothing_every_point(
    tmp_path: Path, reference: dict, where: str, min_epoch: int
) -> None:
    _kill_and_resume(tmp_path, reference, where, min_epoch)


@pytest.mark.slow
def test_sigkill_between_weights_and_card_never_loads_wrong_weights(
    tmp_path: Path, reference: dict
) -> None:
    # The only window two files cannot close: epoch 2's weights are in place, its card is not.
    out = tmp_path / "run"
    _killed_at(out, "replace:last.json:2:before")
    try:
        _, card = load_checkpoint(out / "last.safetensors")
        assert card["epoch"] in (1, 2)
    except CheckpointError as exc:
        assert "does not match the card" in str(exc)
    _assert_resume_is_exact(out, reference)


@pytest.mark.parametrize("victim", ["last.safetensors", "last.json", "state-"])
def test_disk_full_keeps_the_previous_checkpoint_and_says_why(
    tmp_path: Path, monkeypatch, reference: dict, victim: str
) -> None:
    import safetensors.torch as st

    real_save, real_write = st.save_file, Path.write_bytes
    calls = {"n": 0}

    def full_on_second_write(filename: object) -> None:
        """Epoch 2's write of ``victim``: some bytes land, then the device is full."""
        if os.path.basename(str(filename)).startswith("." + victim):
            calls["n"] += 1
            if calls["n"] == 2:
                real_write(Path(filename), b"\0" * 100)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))

    def save(tensors, filename, metadata=None):
        full_on_second_write(filename)
        return real_save(tensors, filename, metadata=metadata)

    def write_bytes(self: Path, data: bytes) -> int:
        full_on_second_write(self)
        return real_write(self, data)

    monkeypatch.setattr(st, "save_file", save)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    out = tmp_path / "run"
    with pytest.raises(OSError, match="No space left on device") as info:
        train(tiny_run(out, f"train.epochs={EPOCHS}"), dataset_factory=factory)
    assert info.value.errno == errno.ENOSPC and victim in str(info.value.filename)
    monkeypatch.undo()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")], "temporary files left"
    _assert_on_disk_state_is_consistent(out, 1)
    _, card = load_checkpoint(out / "last.safetensors")
    assert card["epoch"] == (2 if victim == "state-" else 1)
    _assert_resume_is_exact(out, reference)


def test_cli_reports_a_full_disk_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    import mmed_core.training.trainer as train_mod
    from mmed_core.cli.train import main

    def no_space(*args, **kwargs):
        raise OSError(
            errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / ".last.safetensors.x.tmp")
        )

    monkeypatch.setattr(train_mod, "train", no_space)
    code = main([f"train.out_dir={tmp_path}", "model.preset=tiny"])
    err = capsys.readouterr().err
    assert code != 0 and "No space left on device" in err and "Traceback" not in err
