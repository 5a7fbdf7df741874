# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Every console script ends quietly (exit 141, no traceback) when the reader of its stdout
stops early, as in ``mmed-experiment status STUDY | head``.

python -m pytest test/test_cli_console.py
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmed_core.cli.console import EXIT_SIGPIPE, console_main

ROOT = Path(__file__).resolve().parents[1]
# stdout block-buffered, as for a user (PYTHONUNBUFFERED would hide the failing final flush)
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
    "PYTHONPATH": str(ROOT),
    "OMP_NUM_THREADS": "1",
}
READ_ONE_LINE = [sys.executable, "-c", "import sys; sys.stdin.readline()"]


def _console_scripts() -> list[tuple[str, str, str]]:
    """(name, module, function) of every console script setup.py declares."""
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    found = re.findall(r'"([\w-]+) = ([\w.]+):(\w+)"', text)
    assert found, "setup.py declares no console_scripts"
    return found


def _quiet(stderr: str) -> None:
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr


def test_status_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    # 3000 runs: about 150 kB of status lines, more than a pipe holds, so the writer is still
    # writing when the reader (one line, then exit) has gone
    study = tmp_path / "big.yaml"
    spec = {"name": "big", "seeds": list(range(3000)), "arms": {"mmed": None}}
    study.write_text(yaml.safe_dump({**spec, "out": str(tmp_path / "out")}))
    reader = subprocess.Popen(READ_ONE_LINE, stdin=subprocess.PIPE)
    assert reader.stdin is not None
    writer = subprocess.run(
        [sys.executable, "-m", "mmed_core.cli.experiment", "status", str(study)],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        timeout=120,
    )
    reader.stdin.close()
    assert reader.wait(timeout=30) == 0
    _quiet(writer.stderr)
    assert writer.returncode == EXIT_SIGPIPE


@pytest.mark.parametrize("unbuffered", [False, True])
def test_short_output_into_a_closed_pipe_ends_quietly(unbuffered):
    # --help fits in stdout's buffer: the write fails only at the flush after argparse's exit
    # (unbuffered, argparse itself drops the failed write: exit 0, quiet too)
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mmed_core.cli.eval", "--help"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**ENV, "PYTHONUNBUFFERED": "1"} if unbuffered else ENV,
            timeout=120,
        )
    finally:
        os.close(write)
    _quiet(done.stderr)
    assert done.returncode == (0 if unbuffered else EXIT_SIGPIPE)


@pytest.mark.parametrize("name,module,function", _console_scripts())
def test_every_console_script_is_wrapped(name, module, function):
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:  # the ROS nodes, where no ROS 2 is installed
        pytest.skip(f"{name}: {module} needs {exc.name}")
    main = getattr(mod, function)
    # every console_main wrapper shares one code object
    assert main.__code__ is console_main(lambda: 0).__code__, f"{name}: not @console_main"


def test_other_broken_pipes_and_exit_codes_pass_through():
    def other_pipe() -> int:
        raise BrokenPipeError("a child process's pipe")

    # stdout (captured here) is not a closed pipe: the error is the command's own
    with pytest.raises(BrokenPipeError, match="child process"):
        console_main(other_pipe)()
    assert console_main(lambda code: code)(3) == 3
