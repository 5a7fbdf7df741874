# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What every console script of the project does around its ``main``: a reader that stops
early (``mmed-experiment status ... | head``) ends the command quietly instead of with a
``BrokenPipeError`` traceback.

    mmed-experiment status config/experiments/pilot.yaml | head -3
    python -m pytest test/test_cli_console.py

Each ``main`` declared in setup.py's ``console_scripts`` is decorated with :func:`console_main`.
Python ignores SIGPIPE, so writing to a pipe whose reader is gone raises ``BrokenPipeError``
(at a ``print``, or at the interpreter's final flush of ``sys.stdout``, which it reports as
"Exception ignored ..."). :func:`console_main` flushes stdout itself before returning, and on a
``BrokenPipeError`` from a closed stdout points stdout at ``os.devnull`` (so the final flush of
what is still buffered cannot raise again) and returns :data:`EXIT_SIGPIPE`. A
``BrokenPipeError`` of anything else (a socket, a child process's pipe) is a real error and is
raised as before.
"""

from __future__ import annotations

import functools
import os
import select
import sys
from collections.abc import Callable
from typing import ParamSpec

__all__ = ["EXIT_SIGPIPE", "console_main", "stdout_closed"]

#: Exit code after the reader of stdout went away: 128 + SIGPIPE (13), what the shell reports
#: for a C tool (``yes | head``: ``PIPESTATUS`` 141) killed by the same signal. Chosen over 1 so
#: that ``set -o pipefail`` scripts see the same for an mmed command as for coreutils and can
#: tell "the reader stopped" (141, usually harmless) from a failure of the command (1, 2).
EXIT_SIGPIPE = 128 + 13

P = ParamSpec("P")


def stdout_closed() -> bool:
    """Whether ``sys.stdout`` is a pipe or socket whose reading end is gone (``poll`` reports
    an error or hang-up on it). False when stdout has no file descriptor (captured by a test)
    or is a regular file. Without ``poll`` (Windows) every broken pipe is taken for stdout's."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))


def _silence_stdout() -> None:
    """Point stdout's file descriptor at os.devnull: what Python still has buffered for it is
    written there at exit instead of raising BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def console_main(main: Callable[P, int]) -> Callable[P, int]:
    """Decorate a console script's ``main``: its exit code as before (stdout flushed), or
    :data:`EXIT_SIGPIPE` without a traceback when the reader of stdout stopped early."""

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            # stdout is flushed here, where a closed pipe is still caught, not at exit; also
            # after SystemExit (argparse's --help and usage errors print, then exit)
            try:
                code = main(*args, **kwargs)
            except SystemExit:
                sys.stdout.flush()
                raise
            sys.stdout.flush()
            return code
        except BrokenPipeError:
            if not stdout_closed():
                raise
            _silence_stdout()
            return EXIT_SIGPIPE

    return wrapper
