# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The evaluation layer: the paper's metrics, the evaluator over a split (``mmed-eval``),
paper-style comparison tables and the Fig. 3/4 figure grid.
"""
