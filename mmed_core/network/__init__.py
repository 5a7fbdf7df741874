# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The network layer: model config, modality registry, the method contract and registry
(``base``), mmed and the conv baselines (``mmed``), MAE (``mae``), ``factory.create_model``, the
multi-path losses and FLOP counts. Depends only on ``mmed_core.errors`` and
``mmed_core.data.classes``.
"""
