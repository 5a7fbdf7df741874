# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Perception on a live or replayed camera, optionally with RViz and a point cloud.

    ros2 launch mmed_ros perception.launch.py rgb_topic:=/camera/color/image_raw \
        namespace:=robot1 rviz:=true camera_frame:=camera_color_optical_frame
    ros2 launch mmed_ros perception.launch.py --show-args

Parameters come from `config` (config/perception.yaml); an argument left at '' keeps the
file's value. Everything starts under `namespace`. Before anything starts, the arguments, the
weights and the optional packages (rviz2, depth_image_proc, rclcpp_components) are checked
(mmed_ros.launch_support); when perception_node ends, the launch ends, with code 1 if the node
failed. docs/ROS.md, "Launch", lists the arguments.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import (
    ComposableNodeContainer,
    LoadComposableNodes,
    Node,
    PushRosNamespace,
    SetParameter,
)
from launch_ros.descriptions import ComposableNode

from launch import LaunchDescription
from mmed_ros.launch_support import configure_perception, on_required_exit

SHARE = get_package_share_directory("mmed_ros")

ARGUMENTS = [
    DeclareLaunchArgument(
        "weights",
        default_value=os.path.join(SHARE, "models", "nyu12-synthetic.safetensors"),
        description="checkpoint .safetensors (its .json model card next to it); "
        "default: the model installed with the package",
    ),
    DeclareLaunchArgument(
        "config",
        default_value=os.path.join(SHARE, "config", "perception.yaml"),
        description="parameter file of perception_node; the arguments below override it "
        "only when given",
    ),
    DeclareLaunchArgument(
        "rgb_topic",
        default_value="",
        description="RGB image input; none = no RGB input (depth-only); '' = the config's",
    ),
    DeclareLaunchArgument(
        "depth_topic",
        default_value="",
        description="depth image input (32FC1 m / 16UC1 mm); none = no depth input; "
        "'' = the config's",
    ),
    DeclareLaunchArgument(
        "namespace",
        default_value="",
        description="namespace of everything the launch starts (node, point cloud, RViz); "
        "relative topics resolve in it",
    ),
    DeclareLaunchArgument(
        "use_sim_time",
        default_value="false",
        description="true: all nodes follow /clock (bag replays: ros2 bag play --clock)",
    ),
    DeclareLaunchArgument(
        "device", default_value="", description="auto, cpu, cuda or cuda:N; '' = the config's"
    ),
    DeclareLaunchArgument(
        "precision", default_value="", description="fp32, fp16 or bf16; '' = the config's"
    ),
    DeclareLaunchArgument(
        "backend",
        default_value="",
        description="eager, torchscript, onnxruntime or compile; '' = the config's",
    ),
    DeclareLaunchArgument(
        "qos_reliability",
        default_value="",
        description="input QoS: best_effort (sensor data) or reliable; '' = the config's",
    ),
    DeclareLaunchArgument(
        "log_level",
        default_value="info",
        description="log level of perception_node: debug, info, warn, error or fatal",
    ),
    DeclareLaunchArgument(
        "respawn",
        default_value="false",
        description="true: restart perception_node when it crashes (not when it cannot "
        "start: exit code 1 ends the launch)",
    ),
    DeclareLaunchArgument(
        "rviz",
        default_value="false",
        description="true: start RViz showing this launch's topics (needs rviz2)",
    ),
    DeclareLaunchArgument(
        "camera_frame",
        default_value="camera_optical_frame",
        description="RViz fixed frame: the camera's optical frame "
        "(e.g. camera_color_optical_frame)",
    ),
    DeclareLaunchArgument(
        "point_cloud",
        default_value="false",
        description="true: depth_image_proc point cloud of the rgb->depth estimate on "
        "perception/rgb/points (needs depth_image_proc and rclcpp_components)",
    ),
    DeclareLaunchArgument(
        "container",
        default_value="",
        description="with point_cloud: load the point-cloud component into this running "
        "container (full name, e.g. /camera/camera_container) instead of starting one",
    ),
]


def generate_launch_description() -> LaunchDescription:
    perception = Node(
        package="mmed_ros",
        executable="perception_node",
        name="perception",
        output="screen",
        respawn=LaunchConfiguration("respawn"),
        respawn_delay=2.0,
        # config first, then the overrides of the arguments that were given (a file
        # written by configure_perception)
        parameters=[LaunchConfiguration("config"), LaunchConfiguration("_mmed_params")],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
    )
    cloud = ComposableNode(
        package="depth_image_proc",
        plugin="depth_image_proc::PointCloudXyzNode",
        name="point_cloud_xyz",
        # absolute names under the namespace, so a foreign container cannot change them
        remappings=[
            ("image_rect", LaunchConfiguration("_mmed_cloud_image_rect")),
            ("camera_info", LaunchConfiguration("_mmed_cloud_camera_info")),
            ("points", LaunchConfiguration("_mmed_cloud_points")),
        ],
    )
    return LaunchDescription(
        [
            *ARGUMENTS,
            # Checks and derived values; raises (nothing started, exit code 1) on a bad
            # argument, a missing weights file or a missing optional package.
            OpaqueFunction(
                function=configure_perception,
                kwargs={"declared": [a.name for a in ARGUMENTS], "share": SHARE},
            ),
            GroupAction(
                [
                    PushRosNamespace(LaunchConfiguration("namespace")),
                    SetParameter("use_sim_time", LaunchConfiguration("use_sim_time")),
                    ComposableNodeContainer(
                        name="mmed_point_cloud",
                        namespace="",
                        package="rclcpp_components",
                        executable="component_container",
                        output="screen",
                        condition=IfCondition(LaunchConfiguration("_mmed_cloud_own")),
                        composable_node_descriptions=[cloud],
                    ),
                    LoadComposableNodes(
                        target_container=LaunchConfiguration("container"),
                        condition=IfCondition(LaunchConfiguration("_mmed_cloud_load")),
                        composable_node_descriptions=[cloud],
                    ),
                    Node(
                        package="rviz2",
                        executable="rviz2",
                        name="rviz2",
                        output="screen",
                        arguments=["-d", LaunchConfiguration("_mmed_rviz_config")],
                        condition=IfCondition(LaunchConfiguration("rviz")),
                    ),
                    # last: should an optional part fail to start, nothing is left running
                    perception,
                ]
            ),
            RegisterEventHandler(
                OnProcessExit(target_action=perception, on_exit=on_required_exit)
            ),
        ]
    )
