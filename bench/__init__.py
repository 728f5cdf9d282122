"""Benchmarks of the gateway against its upstreams, run as ``python bench/run.py <suite> [--quick]``.

Each suite starts real processes on 127.0.0.1 (a fake upstream and ``agentgw serve``), drives the
upstream directly and through the gateway with the same load, prints a table and ends with one
``<suite>: key=value ...`` summary line that scripts can parse.
"""

__all__: list[str] = []
