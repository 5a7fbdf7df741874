# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Perception on a live or replayed camera, optionally with RViz and a point cloud.

    ros2 launch mmed_ros perception.launch.py weights:=/path/model.safetensors \
        rgb_topic:=/camera/color/image_raw rviz:=true

Parameters come from config/perception.yaml; the arguments below override it.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import ComposableNodeContainer, Node
from launch_ros.descriptions import ComposableNode
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

SHARE = get_package_share_directory("mmed_ros")


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "weights", description="checkpoint .safetensors (its .json model card next to it)"
            ),
            DeclareLaunchArgument(
                "device", default_value="auto", description="auto, cpu, cuda or cuda:N"
            ),
            DeclareLaunchArgument(
                "precision",
                default_value="fp32",
                description="fp32, fp16 or bf16 (where the device supports it)",
            ),
            DeclareLaunchArgument(
                "rgb_topic",
                default_value="/camera/color/image_raw",
                description="RGB image topic; '' = none",
            ),
            DeclareLaunchArgument(
                "depth_topic",
                default_value="",
                description="depth image topic (32FC1 m / 16UC1 mm); '' = none",
            ),
            DeclareLaunchArgument(
                "namespace",
                default_value="",
                description="namespace of the perception node and its outputs",
            ),
            DeclareLaunchArgument(
                "config",
                default_value=os.path.join(SHARE, "config", "perception.yaml"),
                description="parameter file of perception_node",
            ),
            DeclareLaunchArgument(
                "rviz",
                default_value="false",
                description="true: start RViz with rviz/perception.rviz",
            ),
            DeclareLaunchArgument(
                "point_cloud",
                default_value="false",
                description="true: depth_image_proc point cloud of rgb->depth "
                "(needs ros-$ROS_DISTRO-depth-image-proc)",
            ),
            Node(
                package="mmed_ros",
                executable="perception_node",
                name="perception",
                namespace=LaunchConfiguration("namespace"),
                output="screen",
                # value_type=str: an empty topic ('' = input off) must stay a string,
                # not YAML null.
                parameters=[
                    LaunchConfiguration("config"),
                    {
                        "weights": ParameterValue(LaunchConfiguration("weights"), value_type=str),
                        "device": ParameterValue(LaunchConfiguration("device"), value_type=str),
                        "precision": ParameterValue(
                            LaunchConfiguration("precision"), value_type=str
                        ),
                        "rgb_topic": ParameterValue(
                            LaunchConfiguration("rgb_topic"), value_type=str
                        ),
                        "depth_topic": ParameterValue(
                            LaunchConfiguration("depth_topic"), value_type=str
                        ),
                    },
                ],
            ),
            ComposableNodeContainer(
                name="mmed_point_cloud",
                namespace=LaunchConfiguration("namespace"),
                package="rclcpp_components",
                executable="component_container",
                condition=IfCondition(LaunchConfiguration("point_cloud")),
                composable_node_descriptions=[
                    ComposableNode(
                        package="depth_image_proc",
                        plugin="depth_image_proc::PointCloudXyzNode",
                        name="point_cloud_xyz",
                        remappings=[
                            ("image_rect", "perception/rgb/depth"),
                            ("camera_info", "perception/rgb/camera_info"),
                            ("points", "perception/rgb/points"),
                        ],
                    )
                ],
            ),
            Node(
                package="rviz2",
                executable="rviz2",
                arguments=["-d", os.path.join(SHARE, "rviz", "perception.rviz")],
                condition=IfCondition(LaunchConfiguration("rviz")),
            ),
        ]
    )
