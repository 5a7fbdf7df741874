# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Benchmarks of mmed (figures, not tests): `python -m benchmarks.run` writes
docs/BENCHMARKS.md."""
