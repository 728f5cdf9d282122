"""Building blocks shared by the configuration sections: the strict base model and common checks."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["PositiveSeconds", "Section", "checked_headers", "http_url"]

# RFC 9110 5.6.2 token characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")

PositiveSeconds = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """A configuration section: unknown keys are errors, values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def http_url(value: str) -> str:
    """``value`` without a trailing slash.

    Raises:
        ValueError: it is not an http:// or https:// URL with a host.
    """
    if not _HTTP_URL.match(value):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def checked_headers(value: dict[str, SecretStr]) -> dict[str, SecretStr]:
    """``value`` unchanged.

    Raises:
        ValueError: a name is not an HTTP token, or a value has a line break (header injection).
    """
    for name, secret in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if any(c in secret.get_secret_value() for c in "\r\n"):
            raise ValueError(f"header {name!r} contains a line break")
    return value
