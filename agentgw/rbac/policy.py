"""The RBAC policy: roles' allow and deny rules, compiled once per config, decided per request.

Semantics, for a principal with roles R asking for resource ``name`` of a kind (model, tool, ...):

1. A deny rule of any role in R that matches (and whose condition holds, or fails to evaluate) denies.
   Deny wins across roles.
2. Else an allow rule of any role in R that matches (and whose condition holds) allows.
3. Else the request is denied (``default-deny``).

Names are matched with shell globs (``fnmatch``, case-sensitive, ``*`` crosses ``/``). For agents, a
pattern without ``/`` names an agent and all its skills (``planner`` covers ``planner/plan``); a
pattern ``agent/skill`` names skills, and an allowed skill makes its agent visible.

Compilation turns each role's unconditional patterns of one kind and effect into one regular
expression; the match of (roles, kind, name) is cached, so a decision without conditions is a dict
lookup, and conditions (CEL, compiled at load) run only for the rules that matched the name.
While the policy does not enforce (anonymous mode), everything is allowed and nothing is logged.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cel

from agentgw.auth.principal import Principal
from agentgw.config.rbac import RESOURCE_KINDS, RBACConfig
from agentgw.errors import PermissionDenied
from agentgw.rbac.audit import audit_decision, audit_listing

__all__ = ["Decision", "Kind", "Policy"]

log = logging.getLogger("agentgw.rbac")

Kind = Literal["models", "tools", "prompts", "resources", "agents", "skills"]
"""Resource kinds; ``skills`` are ``<agent>/<skill>`` names, configured under ``agents``."""
Effect = Literal["allow", "deny"]

_CACHE_LIMIT = 8192
_GROUP = "agwrule"
# CEL evaluation failures: a missing key (KeyError), a type mismatch, an overflow.
_CEL_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, OverflowError, IndexError)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: str
    """The rule that decided (``role.allow[i].kind[j]``), ``default-deny`` or ``anonymous-mode``."""


ALLOW_ANONYMOUS = Decision(True, "anonymous-mode")


@dataclass(frozen=True, slots=True)
class _Conditional:
    regex: re.Pattern[str]
    program: Any  # cel.Program (the extension module's type)
    rule: str


@dataclass(frozen=True, slots=True)
class _Matcher:
    """One role's rules of one kind and effect."""

    regex: re.Pattern[str] | None
    """All unconditional patterns as one alternation of named groups ``agwrule<i>``."""
    rules: tuple[str, ...]
    conditional: tuple[_Conditional, ...]

    def match(self, name: str) -> str | None:
        if self.regex is None:
            return None
        found = self.regex.fullmatch(name)
        if found is None:
            return None
        group = found.lastgroup
        if group is None or not group.startswith(_GROUP):
            # fnmatch's own groups (multiple `*`) may close last; find the rule's group.
            group = next(g for g, v in found.groupdict().items() if v is not None and g.startswith(_GROUP))
        return self.rules[int(group.removeprefix(_GROUP))]


@dataclass(frozen=True, slots=True)
class _Match:
    """What matched a name, before conditions: the first unconditional deny and allow, and the
    conditional rules to evaluate."""

    deny: str | None
    allow: str | None
    conditional_deny: tuple[_Conditional, ...]
    conditional_allow: tuple[_Conditional, ...]


class Policy:
    """Decides whether a principal may use a resource.

    ``enforce`` is false in anonymous mode (no authentication configured, no anonymous roles).
    """

    def __init__(self, config: RBACConfig, *, enforce: bool) -> None:
        self.enforce = enforce
        self.roles = frozenset(config.roles)
        self._audit_allowed = config.audit == "all"
        self._audit_denied = config.audit != "off"
        if not enforce and config.roles:
            log.warning(
                "rbac.roles is set but auth is not configured: anonymous mode allows every request"
                " (set auth.api_keys, auth.api_keys_file, auth.jwt or auth.anonymous_roles)"
            )
        self._matchers: dict[tuple[str, str, Effect], _Matcher] = {}
        self._cache: dict[tuple[frozenset[str], str, str], _Match] = {}
        patterns: dict[tuple[str, str, Effect], list[tuple[str, str, Any]]] = {}
        for role, role_config in config.roles.items():
            for effect in ("allow", "deny"):
                for index, rule in enumerate(role_config.rules(effect)):
                    program = cel.compile(rule.when) if rule.when is not None else None
                    for kind in RESOURCE_KINDS:
                        for p_index, pattern in enumerate(getattr(rule, kind)):
                            rule_id = f"{role}.{effect}[{index}].{kind}[{p_index}]"
                            for target_kind, target in _expand(kind, effect, pattern):
                                patterns.setdefault((role, target_kind, effect), []).append(
                                    (target, rule_id, program)
                                )
        for key, entries in patterns.items():
            self._matchers[key] = _compile(entries)

    # -- decisions --------------------------------------------------------------------------------

    def check(
        self,
        principal: Principal,
        kind: Kind,
        name: str,
        request: Callable[[], Mapping[str, Any]] | None = None,
    ) -> Decision:
        """Decide without logging. ``request`` builds the CEL ``request`` value, only if a condition runs."""
        if not self.enforce:
            return ALLOW_ANONYMOUS
        match = self._match(principal.roles, kind, name)
        if match.deny is not None:
            return Decision(False, match.deny)
        context: dict[str, Any] | None = None
        if match.conditional_deny or (match.allow is None and match.conditional_allow):
            context = _context(principal, kind, name, request)
        for conditional in match.conditional_deny:
            assert context is not None
            if _evaluate(conditional, context) is not False:
                return Decision(False, conditional.rule)
        if match.allow is not None:
            return Decision(True, match.allow)
        for conditional in match.conditional_allow:
            assert context is not None
            if _evaluate(conditional, context) is True:
                return Decision(True, conditional.rule)
        return Decision(False, "default-deny")

    def authorize(
        self,
        principal: Principal,
        action: str,
        kind: Kind,
        name: str,
        request: Callable[[], Mapping[str, Any]] | None = None,
    ) -> Decision:
        """Decide and write the audit line."""
        decision = self.check(principal, kind, name, request)
        if self.enforce and (self._audit_allowed if decision.allowed else self._audit_denied):
            audit_decision(principal, action, f"{kind}:{name}", decision.allowed, decision.rule)
        return decision

    def require(
        self,
        principal: Principal,
        action: str,
        kind: Kind,
        name: str,
        request: Callable[[], Mapping[str, Any]] | None = None,
        *,
        param: str | None = None,
    ) -> None:
        """Like :meth:`authorize`, raising when denied.

        Raises:
            PermissionDenied: no rule allows it, or a rule denies it.
        """
        if not self.authorize(principal, action, kind, name, request).allowed:
            raise PermissionDenied("agents" if kind == "skills" else kind, name, param=param)

    def visible(self, principal: Principal, kind: Kind, name: str) -> bool:
        """Whether ``name`` shows in the principal's listings: some rule may allow it (its condition
        is judged on the call) and no unconditional rule denies it."""
        if not self.enforce:
            return True
        match = self._match(principal.roles, kind, name)
        return match.deny is None and (match.allow is not None or bool(match.conditional_allow))

    def filter(self, principal: Principal, action: str, kind: Kind, names: Iterable[str]) -> list[str]:
        """The visible ones of ``names``, in order, with one audit line for the listing."""
        every = list(names)
        if not self.enforce:
            return every
        shown = [name for name in every if self.visible(principal, kind, name)]
        if self._audit_allowed:
            audit_listing(principal, action, kind, len(shown), len(every))
        return shown

    # -- matching ---------------------------------------------------------------------------------

    def _match(self, roles: frozenset[str], kind: str, name: str) -> _Match:
        key = (roles, kind, name)
        match = self._cache.get(key)
        if match is None:
            match = self._compute(roles, kind, name)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = match
        return match

    def _compute(self, roles: frozenset[str], kind: str, name: str) -> _Match:
        deny: str | None = None
        allow: str | None = None
        conditional_deny: list[_Conditional] = []
        conditional_allow: list[_Conditional] = []
        for role in sorted(roles):
            for effect in ("deny", "allow"):
                matcher = self._matchers.get((role, kind, effect))
                if matcher is None:
                    continue
                found = matcher.match(name)
                if effect == "deny":
                    deny = deny or found
                    conditional_deny += [c for c in matcher.conditional if c.regex.fullmatch(name)]
                else:
                    allow = allow or found
                    conditional_allow += [c for c in matcher.conditional if c.regex.fullmatch(name)]
        return _Match(deny, allow, tuple(conditional_deny), tuple(conditional_allow))


def _expand(kind: str, effect: Effect, pattern: str) -> list[tuple[str, str]]:
    """The internal (kind, pattern) pairs a configured pattern stands for."""
    if kind != "agents":
        return [(kind, pattern)]
    if "/" not in pattern:
        return [("agents", pattern), ("skills", pattern + "/*")]
    if effect == "allow":  # an allowed skill makes its agent visible; a denied one hides only itself
        return [("skills", pattern), ("agents", pattern.split("/", 1)[0])]
    return [("skills", pattern)]


def _compile(entries: Sequence[tuple[str, str, Any]]) -> _Matcher:
    plain = [(pattern, rule) for pattern, rule, program in entries if program is None]
    regex = None
    if plain:
        alternation = "|".join(f"(?P<{_GROUP}{i}>{_glob(pattern)})" for i, (pattern, _) in enumerate(plain))
        regex = re.compile(alternation, re.DOTALL)
    conditional = tuple(
        _Conditional(re.compile(_glob(pattern), re.DOTALL), program, rule)
        for pattern, rule, program in entries
        if program is not None
    )
    return _Matcher(regex, tuple(rule for _, rule in plain), conditional)


def _glob(pattern: str) -> str:
    # fnmatch.translate gives "(?s:...)\Z" (\z on newer Pythons); the matcher uses fullmatch.
    return re.sub(r"\\[Zz]$", "", fnmatch.translate(pattern))


def _context(
    principal: Principal,
    kind: str,
    name: str,
    request: Callable[[], Mapping[str, Any]] | None,
) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind, "name": name, "arguments": {}}
    if request is not None:
        details.update(request())
    return {
        "principal": {
            "subject": principal.subject,
            "team": principal.team,
            "roles": sorted(principal.roles),
            "key_name": principal.key_name,
            "auth_method": principal.auth_method,
        },
        "claims": dict(principal.claims),
        "request": details,
    }


def _evaluate(conditional: _Conditional, context: Mapping[str, Any]) -> bool | None:
    """The condition's value: True, False, or None when it could not be evaluated (or is not a bool)."""
    try:
        result = conditional.program.execute(dict(context))
    except _CEL_ERRORS as exc:
        log.warning("rule %s: condition could not be evaluated: %s", conditional.rule, exc)
        return None
    return result if isinstance(result, bool) else None
