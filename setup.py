"""The build's one part that ``pyproject.toml`` holds only in an experimental table: the span path in C.

The extension is optional (see ``agentgw/telemetry/native.py``): without a C compiler the install
goes on, and the gateway uses the Python implementations it mirrors.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("agentgw.telemetry._speedups", ["agentgw/telemetry/_speedups.c"], optional=True),
    ]
)
