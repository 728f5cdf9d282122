"""Checking a tool call's arguments against the tool's input schema before anything is sent.

A model that calls a REST API with a wrong argument should learn what was wrong from the tool
result, and the API should never see the request: each call is validated with ``jsonschema``
(JSON Schema 2020-12, the dialect of MCP tool schemas), and every violation is listed with the
argument it is about. Validators are compiled on a tool's first call, not at start-up: a spec such as
GitHub's has 1,200 tools, most never called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from openapi_tools.errors import InvalidArguments

__all__ = ["ArgumentValidator"]

_MAX_REPORTED = 5


class ArgumentValidator:
    """Validates arguments against one input schema; build once per tool and reuse."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._validator: Draft202012Validator | None
        try:
            self._validator = Draft202012Validator(schema)
            self._validator.check_schema(schema)
        except SchemaError:
            # A schema jsonschema cannot use (an odd `format`, a vendor keyword gone wrong) must not
            # make the tool uncallable; the API still validates what it receives.
            self._validator = None

    def validate(self, arguments: Mapping[str, Any]) -> None:
        """Raises:
        InvalidArguments: naming each failing argument (at most five) and what is wrong with it.
        """
        if self._validator is None:
            return
        errors = sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if not errors:
            return
        lines = [_describe(error) for error in errors[:_MAX_REPORTED]]
        if len(errors) > _MAX_REPORTED:
            lines.append(f"... and {len(errors) - _MAX_REPORTED} more")
        raise InvalidArguments("invalid arguments: " + "; ".join(lines))


def _describe(error: ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{where}: {message}" if where else message
