"""``agentgw keys``: create, list and revoke API keys in the keys file, and hash a key for the config.

``create`` prints the new key once, on stdout alone (``KEY=$(agentgw keys create ...)``); only its
SHA-256 is written, to ``auth.api_keys_file`` of the config given with ``-c`` (or to ``--file``). A
running gateway picks the change up within a second, without a reload.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentgw.auth.api_keys import create_key, hash_key, read_key_file, revoke_key
from agentgw.config.loader import load_config
from agentgw.errors import ConfigError

__all__ = ["add_keys_parser", "run_keys"]


def add_keys_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="manage API keys (create, list, revoke, hash)")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key; it is printed once and stored as a hash")
    create.add_argument("--name", required=True, help="the key's name (unique)")
    create.add_argument("--role", action="append", required=True, help="a role from rbac.roles (repeatable)")
    create.add_argument("--team", help="the team usage is accounted to")
    list_ = actions.add_parser("list", help="list the keys of the keys file (never the keys)")
    revoke = actions.add_parser("revoke", help="remove a key from the keys file")
    revoke.add_argument("--name", required=True)
    for action in (create, list_, revoke):
        where = action.add_mutually_exclusive_group(required=True)
        where.add_argument("-c", "--config", help="configuration file whose auth.api_keys_file is used")
        where.add_argument("--file", help="the keys file itself")
    actions.add_parser("hash", help="read a key on stdin, print its SHA-256 (for auth.api_keys[].key_sha256)")


def run_keys(args: argparse.Namespace) -> int:
    """Run ``agentgw keys ...``; returns the exit status."""
    if args.keys_command == "hash":
        key = sys.stdin.readline().strip()
        if not key:
            print("no key on stdin", file=sys.stderr)
            return 1
        print(hash_key(key))
        return 0
    roles: frozenset[str] | None = None
    if args.config is not None:
        try:
            config = load_config(args.config)
        except ConfigError as error:
            print(error.message, file=sys.stderr)
            return 1
        if config.auth.api_keys_file is None:
            print(f"{args.config}: auth.api_keys_file is not set; set it or pass --file", file=sys.stderr)
            return 1
        path = Path(config.auth.api_keys_file)
        if not path.is_absolute():
            path = Path(args.config).resolve().parent / path
        roles = frozenset(config.rbac.roles)
    else:
        path = Path(args.file)
    try:
        if args.keys_command == "create":
            unknown = sorted(set(args.role) - roles) if roles is not None else []
            if unknown:
                known = ", ".join(sorted(roles or ())) or "none"
                print(f"unknown role(s) {', '.join(unknown)} (known: {known})", file=sys.stderr)
                return 1
            key = create_key(path, args.name, args.role, args.team)
            print(key)
            print(f"key {args.name!r} added to {path}; this is the only time it is shown", file=sys.stderr)
        elif args.keys_command == "revoke":
            revoke_key(path, args.name)
            print(f"key {args.name!r} revoked", file=sys.stderr)
        else:
            for entry in read_key_file(path):
                team = f" team={entry.team}" if entry.team else ""
                print(f"{entry.name}\troles={','.join(entry.roles)}{team}\tcreated={entry.created or '-'}")
    except (OSError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0
