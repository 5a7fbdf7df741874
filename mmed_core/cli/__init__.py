# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The command-line tools of mmed_core: ``mmed-data``, ``mmed-train``, ``mmed-eval``,
``mmed-experiment``, ``mmed-export`` and the core stages of the demo (each a ``main(argv)`` with
``--help``). Every console script's ``main`` (these and ``mmed_ros``'s) is wrapped by
:func:`mmed_core.cli.console.console_main`, so ``mmed-... | head`` ends quietly.
"""
