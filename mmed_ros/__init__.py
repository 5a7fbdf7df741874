# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed_ros: the ROS 2 glue of mmed (nodes, message <-> array conversion, bag tools).

    ros2 launch mmed_ros perception.launch.py weights:=model.safetensors

Only the node modules (and node_utils) import rclpy; conversions, params, pipeline, evaluation,
bag_cli, sync (RGB-D pairing, fair mailbox), health (input rates, silence) and qos (auto QoS,
Fast DDS profile) are ROS-free and tested without ROS. See docs/ROS.md.
"""
