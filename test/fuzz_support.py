# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Budgets of the fuzz tests (test_fuzz_*.py); no tests here.

    python -m pytest test/test_fuzz_conversions.py                      # quick: the default run
    HYPOTHESIS_PROFILE=long python -m pytest test/test_fuzz_*.py -m "slow or not slow"

The quick budget keeps the default run short on a 2-core machine; ``long`` multiplies every
test's examples by 100. Deadlines are off because the shared CI machine stalls at random.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["LONG", "fuzz_settings", "PROJECT_ERRORS"]

LONG = os.environ.get("HYPOTHESIS_PROFILE", "") == "long"


def fuzz_settings(quick: int) -> settings:
    """``quick`` examples in the default run, 100x that under HYPOTHESIS_PROFILE=long."""
    return settings(
        max_examples=quick * 100 if LONG else quick,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def _project_errors() -> tuple[type[BaseException], ...]:
    from mmed_core.errors import MmedError

    return (MmedError,)


#: The only exceptions a fuzzed entry point may raise: mmed_core.errors.MmedError and its
#: subclasses (mmed_ros.errors.ConversionError, BagError and ParameterError among them).
PROJECT_ERRORS = _project_errors()
