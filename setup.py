# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed_ros: one ament_python ROS 2 package that installs mmed_core (pure PyTorch) and mmed_ros.

Outside ROS:                 pip install -e .
Inside a ROS 2 workspace:    colcon build --packages-select mmed_ros
"""

from glob import glob

from setuptools import find_packages, setup

package_name = "mmed_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(include=["mmed_core", "mmed_core.*", "mmed_ros", "mmed_ros.*"]),
    package_data={"mmed_core": ["data/*.json", "data/*.yaml", "evaluation/resources/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
        ("share/" + package_name + "/rviz", glob("rviz/*.rviz")),
        # The shipped model(s): perception.launch.py's default weights.
        (
            "share/" + package_name + "/models",
            glob("models/*.safetensors") + glob("models/*.json"),
        ),
    ],
    # torch is deliberately not a hard requirement: robots bring their own CUDA build.
    install_requires=[
        "setuptools",
        "numpy",
        "safetensors",
        "h5py",
        "opencv-python-headless",
        "pillow",
        "pyyaml",
        "tqdm",
        "rosbags",
        "scipy",
    ],
    python_requires=">=3.10",
    zip_safe=True,
    maintainer="mmed maintainers",
    maintainer_email="mmed@example.org",
    description="Multi-modal encoder-decoder networks (Kuga et al.) for RGB-D perception in ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "mmed-data = mmed_core.cli.data:main",
            "mmed-train = mmed_core.cli.train:main",
            "mmed-eval = mmed_core.cli.eval:main",
            "mmed-export = mmed_core.cli.export:main",
            "mmed-predict = mmed_core.cli.predict:main",
            "mmed-adapt = mmed_core.cli.adapt:main",
            "mmed-experiment = mmed_core.cli.experiment:main",
            "mmed-demo = mmed_ros.demo:main",
            "mmed-bag = mmed_ros.bag_cli:main",
            "perception_node = mmed_ros.perception_node:main",
            "evaluator_node = mmed_ros.evaluator_node:main",
        ],
    },
)
