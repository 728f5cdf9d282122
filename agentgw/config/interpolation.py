"""``${VAR}`` and ``${VAR:-default}`` substitution in configuration values.

Substitution runs on string scalars after YAML parsing, so a value can never change the document's
structure. ``$${`` stands for a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentgw.errors import ConfigIssue

__all__ = ["interpolate"]

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?")


def interpolate(data: Any, env: Mapping[str, str]) -> tuple[Any, list[ConfigIssue]]:
    """Return ``data`` with every reference in its strings replaced from ``env``, and the issues found.

    A reference to an unset variable without a default, or a malformed ``${...}``, is an issue at the
    key path of the value that holds it.
    """
    issues: list[ConfigIssue] = []
    return _walk(data, "", env, issues), issues


def _walk(node: Any, path: str, env: Mapping[str, str], issues: list[ConfigIssue]) -> Any:
    if isinstance(node, str):
        return _substitute(node, path, env, issues)
    if isinstance(node, dict):
        return {key: _walk(value, _join(path, key), env, issues) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(item, f"{path}[{index}]", env, issues) for index, item in enumerate(node)]
    return node


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _substitute(text: str, path: str, env: Mapping[str, str], issues: list[ConfigIssue]) -> str:
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name is None:
            issues.append(
                ConfigIssue(path, f"malformed reference {whole!r} (use ${{VAR}} or ${{VAR:-default}})")
            )
            return whole
        value = env.get(name)
        if value is not None and (value != "" or default is None):
            return value
        if default is not None:
            return default
        issues.append(ConfigIssue(path, f"environment variable {name} is not set"))
        return ""

    return _REFERENCE.sub(replace, text)
