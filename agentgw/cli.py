"""The ``agentgw`` command: ``serve``, ``check``, ``keys``, ``usage`` and ``version``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agentgw._version import __version__
from agentgw.accounting.usage_command import add_usage_parser, run_usage
from agentgw.auth.keys_command import add_keys_parser, run_keys
from agentgw.config.loader import load_config, summarize
from agentgw.errors import ConfigError
from agentgw.logs import configure_logging
from agentgw.mcp import openapi_issues
from agentgw.server import serve

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentgw", description="MCP, LLM and A2A gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the gateway")
    serve_cmd.add_argument("-c", "--config", required=True, help="configuration file (YAML)")
    serve_cmd.add_argument("--host", help="override listen.host")
    serve_cmd.add_argument("--port", type=int, help="override listen.port (0 picks a free port)")
    check_cmd = commands.add_parser("check", help="validate a configuration file")
    check_cmd.add_argument("-c", "--config", required=True, help="configuration file (YAML)")
    commands.add_parser("version", help="print the version")
    add_keys_parser(commands)
    add_usage_parser(commands)
    args = parser.parse_args(argv)

    if args.command == "version":
        print(f"agentgw {__version__}")
        return 0
    if args.command == "keys":
        return run_keys(args)
    if args.command == "usage":
        return run_usage(args)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error.message, file=sys.stderr)
        return 1
    if args.command == "check":
        # OpenAPI specs are part of the configuration: one that does not load fails the check.
        issues = openapi_issues(config.mcp, Path(args.config).resolve().parent)
        if issues:
            print(ConfigError(issues, source=args.config).message, file=sys.stderr)
            return 1
        print(f"{args.config}: valid")
        for line in summarize(config):
            print(f"  {line}")
        return 0
    configure_logging(config.server.log_level)
    serve(config, config_path=args.config, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
