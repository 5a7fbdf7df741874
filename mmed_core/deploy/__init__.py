# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The deployment layer: pickle-free safetensors checkpoints with their model card, the
inference engine the ROS nodes and bag tools share, run-time backends and export (ONNX,
TorchScript).
"""
