# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The training layer: run config (YAML + overrides), resumable run state, the paired/unpaired
batch sampler and the trainer (``mmed-train``).
"""
