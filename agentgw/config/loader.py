"""Load a configuration file: YAML -> interpolation -> schema -> cross-references.

Every problem is collected with its key path before anything is rejected, so one ``agentgw check``
run shows the operator all of them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agentgw.config.interpolation import interpolate
from agentgw.config.limits import limits_issues
from agentgw.config.model import GatewayConfig
from agentgw.config.providers import PROVIDERS
from agentgw.errors import ConfigError, ConfigIssue

__all__ = ["load_config", "parse_config", "summarize"]

_KEYED = re.compile(r"^[a-z_]+: ")


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read, interpolate and validate the configuration file at ``path``.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or does not validate; it lists every issue.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue("", f"cannot read {source}: {exc.strerror or exc}")], source=source
        ) from exc
    return parse_config(text, env=env, source=source)


def parse_config(text: str, env: Mapping[str, str] | None = None, source: str | None = None) -> GatewayConfig:
    """Validate configuration ``text`` (YAML); see :func:`load_config`.

    Raises:
        ConfigError: with every issue found.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue("", f"not valid YAML{where}: {problem}")], source=source) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([ConfigIssue("", "the top level must be a mapping of sections")], source=source)
    data, issues = interpolate(raw, os.environ if env is None else env)
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        issues.extend(_schema_issues(exc))
        issues.extend(_reference_issues(data))
        issues.extend(_access_issues(data))
        issues.extend(limits_issues(data))
        raise ConfigError(issues, source=source) from exc
    issues.extend(_reference_issues(data))
    issues.extend(_access_issues(data))
    issues.extend(limits_issues(data))
    if issues:
        raise ConfigError(issues, source=source)
    return config


def _schema_issues(exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = _without_provider_tag(error["loc"])
        path = _format_path(loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "union_tag_invalid":
            tag = _union_tag(error)
            path = _format_path((*loc, tag))
            known = ", ".join(PROVIDERS) if tag == "provider" else error.get("ctx", {}).get("expected_tags")
            message = f"unknown {tag} {error['input'].get(tag)!r} (known: {known})"
        elif kind == "union_tag_not_found":
            path = _format_path((*loc, _union_tag(error)))
            message = "required key is missing"
        elif kind == "value_error" and _KEYED.match(error["msg"].removeprefix("Value error, ")):
            # A model validator names the key it is about as "key: message".
            key, _, message = error["msg"].removeprefix("Value error, ").partition(": ")
            path = _format_path((*loc, key))
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            if (
                kind not in {"value_error"}
                and "input" in error
                and not isinstance(error["input"], dict | list)
            ):
                message += f" (got {error['input']!r})"
        issues.append(ConfigIssue(path, message))
    return issues


def _union_tag(error: Any) -> str:
    # The key that selects a discriminated union's member: `provider` of a backend, `type` of an auth.
    return str(error.get("ctx", {}).get("discriminator", "'provider'")).strip("'")


def _without_provider_tag(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # pydantic puts a discriminated union's tag in the path (llm.backends.x.anthropic.api_key).
    if loc[:2] == ("llm", "backends") and len(loc) > 3 and loc[3] in PROVIDERS:
        return loc[:3] + loc[4:]
    return loc


def _format_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _reference_issues(data: dict[str, Any]) -> list[ConfigIssue]:
    """Cross-reference checks, run on the raw data so they are reported alongside schema errors."""
    issues: list[ConfigIssue] = []
    llm = data.get("llm")
    if not isinstance(llm, dict):
        return issues
    backends = llm.get("backends") if isinstance(llm.get("backends"), dict) else {}
    assert isinstance(backends, dict)
    known = ", ".join(map(str, backends)) or "none configured"
    models = llm.get("models") if isinstance(llm.get("models"), list) else []
    assert isinstance(models, list)
    seen: dict[str, int] = {}
    for index, model in enumerate(models):
        if not isinstance(model, dict):
            continue
        where = f"llm.models[{index}]"
        name = model.get("name")
        aliases = model.get("aliases") if isinstance(model.get("aliases"), list) else []
        assert isinstance(aliases, list)
        named = [(f"{where}.name", name), *((f"{where}.aliases[{i}]", a) for i, a in enumerate(aliases))]
        for key, value in named:
            if not isinstance(value, str):
                continue
            if value in seen:
                issues.append(
                    ConfigIssue(key, f"duplicate model {value!r} (first at llm.models[{seen[value]}])")
                )
            seen.setdefault(value, index)
        targets = model.get("targets")
        if not isinstance(targets, list):
            continue
        for t_index, target in enumerate(targets):
            backend = target.get("backend") if isinstance(target, dict) else None
            if isinstance(backend, str) and backend not in backends:
                issues.append(
                    ConfigIssue(
                        f"{where}.targets[{t_index}].backend", f"unknown backend {backend!r} (known: {known})"
                    )
                )
        weights = [t.get("weight", 1) for t in targets if isinstance(t, dict)]
        if weights and all(w == 0 for w in weights):
            issues.append(ConfigIssue(f"{where}.targets", "at least one target needs a weight above 0"))
    return issues


def _access_issues(data: dict[str, Any]) -> list[ConfigIssue]:
    """Auth and RBAC cross-references: every role named by a key or anonymous use is defined, and
    key names and hashes are unique."""
    issues: list[ConfigIssue] = []
    auth = data.get("auth") if isinstance(data.get("auth"), dict) else {}
    rbac = data.get("rbac") if isinstance(data.get("rbac"), dict) else {}
    assert isinstance(auth, dict) and isinstance(rbac, dict)
    roles = rbac.get("roles") if isinstance(rbac.get("roles"), dict) else {}
    assert isinstance(roles, dict)
    known = ", ".join(map(str, roles)) or "none defined in rbac.roles"

    def check_roles(where: str, value: object) -> None:
        if not isinstance(value, list):
            return
        for index, role in enumerate(value):
            if isinstance(role, str) and role not in roles:
                issues.append(ConfigIssue(f"{where}[{index}]", f"unknown role {role!r} (known: {known})"))

    keys = auth.get("api_keys") if isinstance(auth.get("api_keys"), list) else []
    assert isinstance(keys, list)
    names: dict[str, int] = {}
    hashes: dict[str, int] = {}
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            continue
        check_roles(f"auth.api_keys[{index}].roles", key.get("roles"))
        for field, seen in (("name", names), ("key_sha256", hashes)):
            value = key.get(field)
            if not isinstance(value, str):
                continue
            value = value.strip().lower() if field == "key_sha256" else value
            if value in seen:
                issues.append(
                    ConfigIssue(
                        f"auth.api_keys[{index}].{field}",
                        f"duplicate {field} (first at auth.api_keys[{seen[value]}])",
                    )
                )
            seen.setdefault(value, index)
    check_roles("auth.anonymous_roles", auth.get("anonymous_roles"))
    return issues


def summarize(config: GatewayConfig) -> list[str]:
    """A few lines that describe a valid config without revealing any secret."""
    lines = [f"listen: {config.listen.host}:{config.listen.port}"]
    backends = config.llm.backends
    lines.append(f"llm backends: {len(backends)}" + (f" ({', '.join(backends)})" if backends else ""))
    models = [m.name for m in config.llm.models]
    lines.append(f"llm models: {len(models)}" + (f" ({', '.join(models)})" if models else ""))
    agents = config.a2a.agents
    lines.append(f"a2a agents: {len(agents)}" + (f" ({', '.join(agents)})" if agents else ""))
    lines.append(f"auth: {_auth_summary(config)}")
    roles = config.rbac.roles
    lines.append(f"rbac roles: {len(roles)}" + (f" ({', '.join(roles)})" if roles else ""))
    return lines


def _auth_summary(config: GatewayConfig) -> str:
    auth = config.auth
    if not auth.enforced:
        return "none (anonymous mode: every request is allowed)"
    parts = []
    if auth.api_keys:
        parts.append(f"{len(auth.api_keys)} api keys")
    if auth.api_keys_file is not None:
        parts.append(f"keys file {auth.api_keys_file}")
    if auth.jwt is not None:
        parts.append(f"jwt from {auth.jwt.issuer}")
    if auth.anonymous_roles is not None:
        parts.append(f"anonymous roles {', '.join(auth.anonymous_roles) or '(none)'}")
    return ", ".join(parts)
