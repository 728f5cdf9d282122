"""Turning a tool call's arguments into the HTTP request the operation describes.

Parameter serialisation follows OpenAPI 3.1 "Style Values" and "Style Examples" (which follow
RFC 6570): ``matrix``/``label``/``simple`` in paths, ``form``/``spaceDelimited``/``pipeDelimited``/
``deepObject`` in queries, ``simple`` in headers, ``form`` in cookies, each with ``explode``. Values
are percent-encoded where they land in the URL, so an argument can never change the host or add path
segments (``/`` in a path value is ``%2F``); header and cookie values with line breaks are refused,
never sent (no header injection through arguments).

The arguments reaching :func:`build_request` have passed the tool's input schema
(:mod:`openapi_tools.arguments`); what is checked here is what a schema cannot say.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from openapi_tools.errors import InvalidArguments
from openapi_tools.operation import Body, Operation, Parameter

__all__ = ["PreparedRequest", "build_request", "is_json_media_type"]

# RFC 3986 reserved characters, kept as they are in a query value with `allowReserved: true`.
_RESERVED = ":/?#[]@!$&'()*+,;="
# Control characters other than tab cannot appear in a header field value (RFC 9110 5.5); CR and LF
# would end it and start another header.
_FORBIDDEN_IN_HEADER = frozenset(chr(c) for c in range(32) if c != 9) | {"\x7f"}


@dataclass(slots=True)
class PreparedRequest:
    """An HTTP request ready to send; :mod:`openapi_tools.auth` may still add to it."""

    method: str
    base_url: str
    """The server URL the path was joined to (no trailing slash): the only origin calls may reach."""
    path: str
    """The rendered, percent-encoded path (``/pets/42``)."""
    query: list[tuple[str, str]] = field(default_factory=list)
    """Already-encoded ``(key, value)`` pairs, in order."""
    headers: list[tuple[str, str]] = field(default_factory=list)
    cookies: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None

    @property
    def url(self) -> str:
        query = "&".join(f"{key}={value}" for key, value in self.query)
        return self.base_url + self.path + (f"?{query}" if query else "")

    def add_query(self, name: str, value: str) -> None:
        self.query.append((_encode(name), _encode(value)))

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((name, _header_value(name, value)))

    def add_cookie(self, name: str, value: str) -> None:
        if ";" in value:
            raise InvalidArguments(f"cookie {name!r} must not contain ';'")
        self.cookies.append((name, _header_value(f"cookie {name}", value)))

    def all_headers(self) -> list[tuple[str, str]]:
        """The headers with the cookies folded into one ``Cookie`` header."""
        if not self.cookies:
            return self.headers
        return [*self.headers, ("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies))]


def build_request(operation: Operation, arguments: Mapping[str, Any], base_url: str) -> PreparedRequest:
    """The request for ``operation`` with ``arguments`` (already validated), against ``base_url``.

    Raises:
        InvalidArguments: a value that cannot be sent where the spec puts it (a line break in a
            header, a file that is not valid base64, a missing path parameter).
    """
    path = operation.path
    request = PreparedRequest(operation.method, base_url.rstrip("/"), "")
    for parameter in operation.parameters:
        if parameter.argument not in arguments:
            if parameter.location == "path":
                raise InvalidArguments(f"missing path parameter {parameter.argument!r}")
            continue
        value = arguments[parameter.argument]
        if value is None and parameter.location != "path":
            continue  # a nullable optional parameter given as null: not sent, as if omitted
        if parameter.location == "path":
            path = path.replace("{" + parameter.name + "}", _path_value(parameter, value))
        elif parameter.location == "query":
            request.query.extend(_query_pairs(parameter, value))
        elif parameter.location == "header":
            request.add_header(parameter.name, _simple(parameter, value, _as_is))
        else:
            for name, text in _cookie_pairs(parameter, value):
                request.add_cookie(name, text)
    request.path = path if path.startswith("/") else "/" + path
    if operation.body is not None:
        body_value = _body_value(operation.body, arguments)
        if body_value is not None:
            media_type, request.content = _encode_body(operation.body, body_value)
            request.headers.append(("Content-Type", media_type))
    return request


def is_json_media_type(media_type: str) -> bool:
    """``application/json`` and the ``+json`` structured-syntax types (RFC 6839)."""
    essence = media_type.split(";", 1)[0].strip().lower()
    return essence == "application/json" or essence.endswith("+json")


# --- values -------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A primitive as it appears in a URL or header: JSON's spelling of booleans and null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    # A nested array or object inside an array or object value has no style: it goes as JSON.
    return orjson.dumps(value).decode()


def _encode(text: str, *, allow_reserved: bool = False) -> str:
    return quote(text, safe=_RESERVED if allow_reserved else "")


def _as_is(text: str) -> str:
    return text


def _header_value(name: str, value: str) -> str:
    if any(c in _FORBIDDEN_IN_HEADER for c in value):
        raise InvalidArguments(f"{name!r} must not contain line breaks or control characters")
    if not value.isascii():
        # Header values are ASCII on the wire here (httpx2 encodes them so); say so, not crash.
        raise InvalidArguments(f"{name!r} must be ASCII")
    return value


def _content_value(parameter: Parameter, value: Any) -> str | None:
    # A parameter described by `content` is the serialised media type, not a style.
    if parameter.content_type is None:
        return None
    if isinstance(value, str) and not is_json_media_type(parameter.content_type):
        return value
    return orjson.dumps(value).decode()


def _items(value: Any) -> list[tuple[str, str]]:
    return [(str(k), _text(v)) for k, v in value.items() if v is not None]


# --- path ---------------------------------------------------------------------------------------


def _path_value(parameter: Parameter, value: Any) -> str:
    def enc(text: str) -> str:
        encoded = _encode(text)
        # "." and ".." are unreserved, so a client would treat them as dot segments (RFC 3986
        # 5.2.4) and move the request up the path; encoded they are plain data.
        return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded

    content = _content_value(parameter, value)
    if content is not None:
        return enc(content)
    name, explode = parameter.name, parameter.explode
    if parameter.style == "label":
        sep = "." if explode else ","
        if isinstance(value, list):
            return "." + sep.join(enc(_text(v)) for v in value)
        if isinstance(value, dict):
            pairs = _items(value)
            if explode:
                return "." + ".".join(f"{enc(k)}={enc(v)}" for k, v in pairs)
            return "." + ",".join(f"{enc(k)},{enc(v)}" for k, v in pairs)
        return "." + enc(_text(value))
    if parameter.style == "matrix":
        if isinstance(value, list):
            if explode:
                return "".join(f";{name}={enc(_text(v))}" for v in value)
            return f";{name}=" + ",".join(enc(_text(v)) for v in value)
        if isinstance(value, dict):
            pairs = _items(value)
            if explode:
                return "".join(f";{enc(k)}={enc(v)}" for k, v in pairs)
            return f";{name}=" + ",".join(f"{enc(k)},{enc(v)}" for k, v in pairs)
        text = _text(value)
        return f";{name}={enc(text)}" if text else f";{name}"
    return _simple(parameter, value, enc)


def _simple(parameter: Parameter, value: Any, enc: Any) -> str:
    """``simple`` style (paths and headers): ``3,4,5``, ``role,admin`` or exploded ``role=admin``."""
    content = _content_value(parameter, value)
    if content is not None:
        return str(enc(content))
    if isinstance(value, list):
        return ",".join(enc(_text(v)) for v in value)
    if isinstance(value, dict):
        pairs = _items(value)
        if parameter.explode:
            return ",".join(f"{enc(k)}={enc(v)}" for k, v in pairs)
        return ",".join(f"{enc(k)},{enc(v)}" for k, v in pairs)
    return str(enc(_text(value)))


# --- query and cookie ---------------------------------------------------------------------------


def _query_pairs(parameter: Parameter, value: Any) -> list[tuple[str, str]]:
    def enc(text: str) -> str:
        return _encode(text, allow_reserved=parameter.allow_reserved)

    name = _encode(parameter.name)
    content = _content_value(parameter, value)
    if content is not None:
        return [(name, enc(content))]
    style, explode = parameter.style, parameter.explode
    if isinstance(value, list):
        if explode:
            return [(name, enc(_text(v))) for v in value]
        sep = {"spaceDelimited": "%20", "pipeDelimited": "%7C"}.get(style, ",")
        return [(name, sep.join(enc(_text(v)) for v in value))]
    if isinstance(value, dict):
        if style == "deepObject":
            return list(_deep_pairs(name, value, enc))
        pairs = _items(value)
        if explode:
            return [(_encode(k), enc(v)) for k, v in pairs]
        return [(name, ",".join(f"{enc(k)},{enc(v)}" for k, v in pairs))]
    return [(name, enc(_text(value)))]


def _deep_pairs(prefix: str, value: Mapping[str, Any], enc: Any) -> Iterable[tuple[str, str]]:
    # deepObject is only defined one level deep; deeper objects nest brackets, the common reading.
    for key, item in value.items():
        name = f"{prefix}[{_encode(str(key))}]"
        if isinstance(item, dict):
            yield from _deep_pairs(name, item, enc)
        elif isinstance(item, list):
            yield from ((name, enc(_text(v))) for v in item)
        elif item is not None:
            yield name, enc(_text(item))


def _cookie_pairs(parameter: Parameter, value: Any) -> list[tuple[str, str]]:
    content = _content_value(parameter, value)
    if content is not None:
        return [(parameter.name, content)]
    if isinstance(value, list):
        if parameter.explode:
            return [(parameter.name, _text(v)) for v in value]
        return [(parameter.name, ",".join(_text(v) for v in value))]
    if isinstance(value, dict):
        pairs = _items(value)
        if parameter.explode:
            return pairs
        return [(parameter.name, ",".join(f"{k},{v}" for k, v in pairs))]
    return [(parameter.name, _text(value))]


# --- body ---------------------------------------------------------------------------------------


def _body_value(body: Body, arguments: Mapping[str, Any]) -> Any:
    if body.argument is not None:
        return arguments.get(body.argument)
    merged = {prop: arguments[key] for key, prop in body.properties.items() if key in arguments}
    if not merged and not body.required:
        return None
    return merged


def _encode_body(body: Body, value: Any) -> tuple[str, bytes]:
    media_type = body.media_type
    essence = media_type.split(";", 1)[0].strip().lower()
    if is_json_media_type(media_type):
        return media_type, orjson.dumps(value)
    if essence == "application/x-www-form-urlencoded":
        return media_type, _form_urlencoded(body, value).encode()
    if essence == "multipart/form-data":
        return _multipart(body, value)
    if isinstance(value, str):
        if _is_binary(body.schema):
            return media_type, _decode_file(body.schema, value, "body")
        return media_type, value.encode()
    if essence.startswith("text/") and not isinstance(value, dict | list):
        return media_type, _text(value).encode()
    return media_type, orjson.dumps(value)


def _form_urlencoded(body: Body, value: Any) -> str:
    if not isinstance(value, dict):
        raise InvalidArguments("a form body must be an object")
    pairs: list[str] = []
    for key, item in value.items():
        if item is None:
            continue
        encoding = body.encoding.get(key, {})
        content_type = encoding.get("contentType")
        name = _encode(key)
        if isinstance(item, list) and not content_type:
            if encoding.get("explode", True):
                pairs.extend(f"{name}={_encode(_text(v))}" for v in item)
            else:
                pairs.append(f"{name}=" + ",".join(_encode(_text(v)) for v in item))
        elif isinstance(item, dict) or content_type:
            pairs.append(f"{name}={_encode(orjson.dumps(item).decode())}")
        else:
            pairs.append(f"{name}={_encode(_text(item))}")
    return "&".join(pairs)


def _multipart(body: Body, value: Any) -> tuple[str, bytes]:
    if not isinstance(value, dict):
        raise InvalidArguments("a multipart body must be an object")
    boundary = secrets.token_hex(16)
    properties = body.schema.get("properties", {}) if isinstance(body.schema, Mapping) else {}
    chunks: list[bytes] = []
    for key, item in value.items():
        if item is None:
            continue
        schema = properties.get(key, {}) if isinstance(properties, Mapping) else {}
        declared = body.encoding.get(key, {}).get("contentType")
        item_schema = schema.get("items", {})
        if isinstance(item, list) and _is_binary(item_schema):
            chunks.extend(_part(boundary, key, part, item_schema, declared) for part in item)
        else:
            chunks.append(_part(boundary, key, item, schema, declared))
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(chunks)


def _part(boundary: str, name: str, value: Any, schema: Mapping[str, Any], declared: str | None) -> bytes:
    quoted = name.replace('"', "%22")
    _header_value(f"multipart field {name}", name)
    disposition = f'form-data; name="{quoted}"'
    if isinstance(value, str) and _is_binary(schema):
        data = _decode_file(schema, value, name)
        content_type = (
            declared
            or _data_url_type(value)
            or str(schema.get("contentMediaType") or "application/octet-stream")
        )
        disposition += f'; filename="{quoted}"'
    elif isinstance(value, dict | list):
        data, content_type = orjson.dumps(value), declared or "application/json"
    else:
        data, content_type = _text(value).encode(), declared or "text/plain; charset=utf-8"
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
    return head.encode() + data + b"\r\n"


def _is_binary(schema: Any) -> bool:
    """A file: OpenAPI 3.0 ``format: binary``/``byte``, or 3.1 ``contentEncoding``/``contentMediaType``."""
    if not isinstance(schema, Mapping):
        return False
    return (
        schema.get("format") in ("binary", "byte")
        or "contentEncoding" in schema
        or "contentMediaType" in schema
    )


def _decode_file(schema: Mapping[str, Any], value: str, name: str) -> bytes:
    """A file's bytes: base64 when the schema says so (``contentEncoding: base64``, ``format: byte``);
    otherwise a ``data:<type>;base64,...`` URL is decoded (how binary reaches a ``format: binary``
    field through JSON arguments), and any other string is the file's text, UTF-8 encoded."""
    if schema.get("contentEncoding") == "base64" or schema.get("format") == "byte":
        return _b64(value, name)
    if _data_url_type(value) is not None:
        return _b64(value.split(",", 1)[1], name)
    return value.encode()


def _data_url_type(value: str) -> str | None:
    if not value.startswith("data:"):
        return None
    head, comma, _ = value.partition(",")
    if not comma or not head.endswith(";base64"):
        return None
    return head[5:-7] or "application/octet-stream"


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArguments(f"{name!r} must be base64: {exc}") from exc
