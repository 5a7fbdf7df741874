# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Score a model on a recorded bag: replay it on sim time, run perception_node and
evaluator_node, print the metrics report when the bag ends, exit.

    ros2 launch mmed_ros evaluation.launch.py bag:=runs/bag output_json:=runs/metrics.json

The bag needs the camera topics and ground truth on /gt/depth and /gt/label (`mmed-bag make`
writes such bags). The replay is `mmed-bag play --clock` (no rosbag2 needed); it starts once
the nodes subscribe, and the launch ends `settle` seconds after its last message, when
evaluator_node prints its report (and writes output_json). Exit code 1 when a node cannot
start or the replay fails.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackagePrefix

from launch import LaunchDescription
from mmed_ros.launch_support import configure_evaluation, on_player_exit, on_required_exit

SHARE = get_package_share_directory("mmed_ros")

ARGUMENTS = [
    DeclareLaunchArgument("bag", description="rosbag2 directory to replay (with /gt/* topics)"),
    DeclareLaunchArgument(
        "weights",
        default_value=os.path.join(SHARE, "models", "nyu12-synthetic.safetensors"),
        description="checkpoint .safetensors to score (its .json model card next to it)",
    ),
    DeclareLaunchArgument(
        "rgb_topic",
        default_value="/camera/color/image_raw",
        description="RGB image topic of the bag",
    ),
    DeclareLaunchArgument(
        "depth_topic",
        default_value="/camera/depth/image_raw",
        description="depth image topic of the bag (for depth->label); none = not used",
    ),
    DeclareLaunchArgument(
        "device", default_value="", description="auto, cpu, cuda or cuda:N; '' = the config's"
    ),
    DeclareLaunchArgument(
        "rate", default_value="1.0", description="replay speed factor (0.5 = half speed)"
    ),
    DeclareLaunchArgument(
        "output_json",
        default_value="",
        description="also write the final metrics to this JSON file",
    ),
    DeclareLaunchArgument(
        "settle",
        default_value="3.0",
        description="seconds between the bag's last message and the report",
    ),
]


def generate_launch_description() -> LaunchDescription:
    evaluator = Node(
        package="mmed_ros",
        executable="evaluator_node",
        name="evaluator",
        output="screen",
        parameters=[
            {
                "use_sim_time": True,
                "weights": ParameterValue(LaunchConfiguration("weights"), value_type=str),
                "output_json": ParameterValue(LaunchConfiguration("output_json"), value_type=str),
            }
        ],
    )
    player = ExecuteProcess(
        name="mmed_bag_play",
        output="screen",
        cmd=[
            PathJoinSubstitution([FindPackagePrefix("mmed_ros"), "lib", "mmed_ros", "mmed-bag"]),
            "play",
            LaunchConfiguration("bag"),
            "--clock",
            "--rate",
            LaunchConfiguration("rate"),
            # start once perception_node and evaluator_node subscribe (the model loads first)
            "--wait-for",
            LaunchConfiguration("rgb_topic"),
            "/gt/depth",
            "/gt/label",
            "--wait-timeout",
            "120",
            # then give the estimates' route to evaluator_node time to be discovered
            "--delay",
            "3",
        ],
    )
    return LaunchDescription(
        [
            *ARGUMENTS,
            OpaqueFunction(
                function=configure_evaluation,
                kwargs={"declared": [a.name for a in ARGUMENTS]},
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(
                    os.path.join(SHARE, "launch", "perception.launch.py")
                ),
                launch_arguments={
                    "weights": LaunchConfiguration("weights"),
                    "rgb_topic": LaunchConfiguration("rgb_topic"),
                    "depth_topic": LaunchConfiguration("depth_topic"),
                    "device": LaunchConfiguration("device"),
                    "use_sim_time": "true",
                    # the player is reliable; best effort drops fragments of large images
                    "qos_reliability": "reliable",
                }.items(),
            ),
            evaluator,
            player,
            RegisterEventHandler(OnProcessExit(target_action=evaluator, on_exit=on_required_exit)),
            RegisterEventHandler(OnProcessExit(target_action=player, on_exit=on_player_exit)),
        ]
    )
