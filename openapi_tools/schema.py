"""OpenAPI schema objects (Swagger 2.0, OpenAPI 3.0, OpenAPI 3.1) as JSON Schema 2020-12.

Every ``$ref`` to a schema becomes ``{"$ref": "#/$defs/<Name>"}`` and its target one entry of the
tool's ``$defs``; a tool carries only the definitions it reaches. Recursive schemas therefore need no
special case: a cycle is a ``$defs`` entry that refers to itself, never an infinite expansion. Only the
top of a parameter, body or response schema is dereferenced (:meth:`SchemaConverter.convert_top`), so a
body's properties can be merged into the tool arguments.

Each referenced schema is converted once per spec and the result shared by every tool that uses it
(GitHub's spec has 1,223 operations over a few hundred component schemas; inlining everything would
produce a 73 MB document). Definition names come from the last segment of the target's pointer
(``#/components/schemas/Pet`` -> ``Pet``), sanitised to ``[A-Za-z0-9_.-]``; a second target with the same
name (another file's ``Pet``) gets ``Pet_2``.

Dialect differences converted here:

- 3.0 / 2.0 ``nullable: true`` (2.0: ``x-nullable``): ``type: T`` -> ``type: [T, "null"]``, ``null`` added
  to an ``enum``, and a composition without ``type`` wrapped as ``anyOf: [<schema>, {type: null}]``.
- 3.0 / 2.0 boolean ``exclusiveMinimum``/``exclusiveMaximum`` -> the 2020-12 numeric form.
- ``example`` -> ``examples: [example]``; ``x-*`` extensions, ``xml``, ``externalDocs``, ``$schema`` and
  ``$id`` dropped (an ``$id`` inside ``$defs`` would change the base of the ``#/$defs`` references).
- 2.0 ``type: file`` -> ``{type: string, format: binary}``; 2.0 ``discriminator: "kind"`` ->
  ``discriminator: {propertyName: "kind"}``; an ``items`` list -> ``prefixItems``.
- 3.0 / 2.0 ``$ref`` siblings are ignored as those specs require; 3.1 keeps them (2020-12 semantics).
- Keywords whose value is invalid JSON Schema (``required: true`` on a property, an unknown ``type``)
  are dropped so every produced schema passes the 2020-12 metaschema.
``allOf``/``oneOf``/``anyOf``/``not`` and ``discriminator`` are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from openapi_tools.refs import RefFailure, Resolver, Target

__all__ = ["Dialect", "SchemaConverter"]

Dialect = Literal["2.0", "3.0", "3.1"]

_SUBSCHEMA = frozenset(
    {
        "additionalProperties",
        "contains",
        "not",
        "if",
        "then",
        "else",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_SUBSCHEMA_MAP = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_SUBSCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_DROPPED = frozenset({"xml", "externalDocs", "$schema", "$id", "nullable", "additionalItems"})
_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_REF_HOPS = 64


class _Definition:
    """One ``$defs`` entry: its name, where it came from, and (once converted) its schema and edges."""

    __slots__ = ("deps", "name", "schema", "target")

    def __init__(self, name: str, target: Target) -> None:
        self.name = name
        self.target = target
        self.schema: dict[str, Any] | bool | None = None
        self.deps: frozenset[str] = frozenset()


class SchemaConverter:
    """Converts the schemas of one spec, caching every referenced schema's conversion."""

    def __init__(self, resolver: Resolver, dialect: Dialect) -> None:
        self._resolver = resolver
        self._dialect = dialect
        self._legacy = dialect != "3.1"
        self._definitions: dict[str, _Definition] = {}
        self._names: set[str] = set()
        self._closures: dict[str, frozenset[str]] = {}

    # -- public -------------------------------------------------------------------------------

    def convert(self, node: Any, base: str, deps: set[str]) -> Any:
        """``node`` as 2020-12, read in the document at ``base``; referenced definitions' URIs are
        added to ``deps``.

        Raises:
            RefFailure: a ``$ref`` does not resolve (its ``path`` locates it inside ``node``).
        """
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise RefFailure(f"a schema must be an object, not {type(node).__name__}")
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._reference(node, ref, base, deps)
        return self._object(node, base, deps)

    def convert_top(self, node: Any, base: str, deps: set[str]) -> Any:
        """Like :meth:`convert`, but a top-level ``$ref`` is replaced by (a shallow copy of) its
        converted target, so the caller can read and merge its properties.

        Raises:
            RefFailure: as :meth:`convert`.
        """
        hops = 0
        siblings: list[dict[str, Any]] = []
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            hops += 1
            if hops > _MAX_REF_HOPS:
                raise RefFailure("$ref chain too long (a $ref that refers to itself?)")
            if not self._legacy and len(node) > 1:
                siblings.append(self._object({k: v for k, v in node.items() if k != "$ref"}, base, deps))
            try:
                target = self._resolver.resolve(node["$ref"], base)
            except RefFailure as failure:
                failure.within("$ref")
                raise
            node, base = target.node, target.document
            if isinstance(node, dict) and isinstance(node.get("$ref"), str):
                continue
            definition = self._definition(target.uri, target)
            schema = self._materialise(definition)
            deps.update(definition.deps)
            if not isinstance(schema, dict):
                return schema
            result = dict(schema)
            for extra in reversed(siblings):
                result.update(extra)
            return result
        return self.convert(node, base, deps)

    def definitions(self, deps: Iterable[str]) -> dict[str, Any]:
        """The ``$defs`` for a schema that references ``deps``: every definition they reach.

        Raises:
            RefFailure: a reached definition holds a broken ``$ref``.
        """
        reached: set[str] = set()
        for key in deps:
            if key not in reached:
                reached |= self._closure(key)
        out = {}
        for key in sorted(reached, key=lambda k: self._definitions[k].name):
            definition = self._definitions[key]
            out[definition.name] = definition.schema
        return out

    # -- references ---------------------------------------------------------------------------

    def _reference(self, node: dict[str, Any], ref: str, base: str, deps: set[str]) -> dict[str, Any]:
        key = self._resolver.canonical(ref, base)
        definition = self._definitions.get(key)
        if definition is None:
            try:
                target = self._resolver.resolve(ref, base)
            except RefFailure as failure:
                failure.within("$ref")
                raise
            definition = self._definition(target.uri, target)
        deps.add(definition.target.uri)
        out: dict[str, Any] = {"$ref": "#/$defs/" + definition.name}
        if not self._legacy and len(node) > 1:
            out.update(self._object({k: v for k, v in node.items() if k != "$ref"}, base, deps))
        return out

    def _definition(self, key: str, target: Target) -> _Definition:
        definition = self._definitions.get(key)
        if definition is None:
            stem = target.pointer[-1] if target.pointer else target.document.rsplit("/", 1)[-1]
            name = _NAME_UNSAFE.sub("_", stem).strip("_") or "schema"
            if name in self._names:
                n = 2
                while f"{name}_{n}" in self._names:
                    n += 1
                name = f"{name}_{n}"
            self._names.add(name)
            definition = _Definition(name, target)
            self._definitions[key] = definition
        return definition

    def _materialise(self, definition: _Definition) -> Any:
        if definition.schema is None:
            deps: set[str] = set()
            target = definition.target
            try:
                definition.schema = self.convert(target.node, target.document, deps)
            except RefFailure as failure:
                failure.anchor(target.pointer, self._resolver.label(target.document))
                raise
            definition.deps = frozenset(deps)
        return definition.schema

    def _closure(self, key: str) -> frozenset[str]:
        cached = self._closures.get(key)
        if cached is not None:
            return cached
        reached: set[str] = set()
        stack = [key]
        while stack:
            current = stack.pop()
            if current in reached:
                continue
            reached.add(current)
            done = self._closures.get(current)
            if done is not None:
                reached |= done
                continue
            definition = self._definitions[current]
            self._materialise(definition)
            stack.extend(d for d in definition.deps if d not in reached)
        result = frozenset(reached)
        self._closures[key] = result
        return result

    # -- schema objects -----------------------------------------------------------------------

    def _object(self, node: dict[str, Any], base: str, deps: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        key = ""
        try:
            for key, value in node.items():
                if key in _SUBSCHEMA:
                    out[key] = self.convert(value, base, deps)
                elif key in _SUBSCHEMA_MAP:
                    if isinstance(value, dict):
                        out["$defs" if key == "definitions" else key] = self._map(value, base, deps)
                elif key in _SUBSCHEMA_LIST:
                    if isinstance(value, list):
                        out[key] = self._list(value, base, deps)
                elif key == "items":
                    if isinstance(value, list):
                        out["prefixItems"] = self._list(value, base, deps)
                        extra = node.get("additionalItems")
                        if extra is not None:
                            out["items"] = self.convert(extra, base, deps)
                    else:
                        out["items"] = self.convert(value, base, deps)
                elif key in _DROPPED or key.startswith("x-"):
                    continue
                else:
                    out[key] = value
        except RefFailure as failure:
            failure.within(key)
            raise
        return self._normalise(node, out)

    def _map(self, value: dict[str, Any], base: str, deps: set[str]) -> dict[str, Any]:
        out = {}
        name = ""
        try:
            for name, sub in value.items():
                out[name] = self.convert(sub, base, deps)
        except RefFailure as failure:
            failure.within(name)
            raise
        return out

    def _list(self, value: list[Any], base: str, deps: set[str]) -> list[Any]:
        out = []
        for index, sub in enumerate(value):
            try:
                out.append(self.convert(sub, base, deps))
            except RefFailure as failure:
                failure.within(index)
                raise
        return out

    def _normalise(self, node: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        """Dialect conversions and repairs that need the whole object (see the module docstring)."""
        kind = out.get("type")
        if kind is not None and not _valid_type(kind):
            if kind == "file" and self._dialect == "2.0":
                out["type"] = "string"
                out["format"] = "binary"
            else:
                del out["type"]
        for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            flag = out.get(bound)
            if isinstance(flag, bool):
                del out[bound]
                if flag and limit in out:
                    out[bound] = out.pop(limit)
        if "required" in out and not _string_list(out["required"]):
            del out["required"]
        if "enum" in out and not isinstance(out["enum"], list):
            del out["enum"]
        if "example" in out:
            example = out.pop("example")
            if "examples" not in out:
                out["examples"] = [example]
        if "examples" in out and not isinstance(out["examples"], list):
            del out["examples"]
        discriminator = out.get("discriminator")
        if isinstance(discriminator, str):
            out["discriminator"] = {"propertyName": discriminator}
        if self._legacy and (node.get("nullable") is True or node.get("x-nullable") is True):
            return _nullable(out)
        return out


def _valid_type(kind: Any) -> bool:
    if isinstance(kind, str):
        return kind in _TYPES
    return (
        isinstance(kind, list)
        and all(isinstance(k, str) and k in _TYPES for k in kind)
        and len(set(kind)) == len(kind)
    )


def _string_list(value: Any) -> bool:
    return (
        isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) == len(value)
    )


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 ``nullable: true`` as a 2020-12 type union (3.0 Schema Object ``nullable``: it widens ``type``)."""
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list):
        if "null" not in kind:
            out["type"] = [*kind, "null"]
    elif any(k in out for k in ("allOf", "anyOf", "oneOf", "$ref")):
        outer: dict[str, Any] = {k: out.pop(k) for k in ("title", "description", "default") if k in out}
        return {**outer, "anyOf": [out, {"type": "null"}]}
    enum = out.get("enum")
    if isinstance(enum, list) and None not in enum:
        out["enum"] = [*enum, None]
    return out
