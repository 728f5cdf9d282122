"""The policy engine on its own: globs, deny wins, default deny, agents and skills, CEL conditions."""

from __future__ import annotations

import logging

import pytest
import yaml

from agentgw.auth.principal import ANONYMOUS, Principal
from agentgw.config.rbac import RBACConfig
from agentgw.errors import PermissionDenied
from agentgw.rbac import Policy, RBACCatalogPolicy

RULES = """
roles:
  developer:
    allow: {models: ["gpt-4o-mini", "claude-*"], tools: ["weather/*", "petstore/get*"], agents: [planner]}
    deny: {tools: ["*/delete*"]}
  ops:
    allow: {tools: ["*"], agents: ["researcher/search"]}
    deny: {agents: ["planner/admin"]}
  writer:
    allow:
      - {tools: ["fs/read_file"]}
      - tools: ["fs/write_file"]
        when: 'request.arguments.path.startsWith("/tmp/")'
    deny:
      - tools: ["fs/*"]
        when: 'principal.team == "contractors"'
"""


def principal(*roles: str, team: str | None = None) -> Principal:
    return Principal(subject="p", roles=frozenset(roles), team=team, auth_method="api_key")


@pytest.fixture
def policy() -> Policy:
    return Policy(RBACConfig.model_validate(yaml.safe_load(RULES)), enforce=True)


def test_globs_and_default_deny(policy: Policy) -> None:
    dev = principal("developer")
    assert policy.check(dev, "models", "claude-sonnet").rule == "developer.allow[0].models[1]"
    assert not policy.check(dev, "models", "gpt-4o").allowed
    assert policy.check(dev, "models", "gpt-4o").rule == "default-deny"
    assert policy.check(dev, "tools", "petstore/getPet").allowed
    assert not policy.check(dev, "tools", "petstore/addPet").allowed
    assert not policy.check(principal(), "models", "gpt-4o-mini").allowed  # no roles: nothing
    assert not policy.check(principal("unknown-role"), "models", "gpt-4o-mini").allowed


def test_deny_wins_across_roles(policy: Policy) -> None:
    both = principal("developer", "ops")
    decision = policy.check(both, "tools", "weather/delete_city")
    assert not decision.allowed and decision.rule == "developer.deny[0].tools[0]"
    assert policy.check(both, "tools", "anything/else").allowed


def test_agents_and_skills(policy: Policy) -> None:
    dev, ops = principal("developer"), principal("ops")
    # An agent pattern covers the agent and all its skills.
    assert policy.visible(dev, "agents", "planner") and policy.visible(dev, "skills", "planner/plan")
    assert not policy.visible(dev, "agents", "researcher")
    # An allowed skill makes its agent visible, but only that skill.
    assert policy.visible(ops, "agents", "researcher")
    assert policy.visible(ops, "skills", "researcher/search")
    assert not policy.visible(ops, "skills", "researcher/write")
    # A denied skill hides only itself.
    both = principal("developer", "ops")
    assert policy.visible(both, "agents", "planner") and not policy.visible(both, "skills", "planner/admin")


def test_condition_on_tool_arguments(policy: Policy) -> None:
    catalog = RBACCatalogPolicy(policy)
    writer = principal("writer")
    catalog.authorize(writer, "tools", "fs/write_file", {"path": "/tmp/notes.txt"})
    with pytest.raises(PermissionDenied) as refused:
        catalog.authorize(writer, "tools", "fs/write_file", {"path": "/etc/passwd"})
    assert refused.value.status == 403 and refused.value.code == "permission_denied"
    # A missing argument cannot satisfy the condition.
    assert not policy.check(writer, "tools", "fs/write_file").allowed
    # Conditionally allowed tools are listed; the call is judged on its arguments.
    assert catalog.filter(writer, "tools", ["fs/read_file", "fs/write_file", "fs/delete"]) == [
        "fs/read_file",
        "fs/write_file",
    ]


def test_condition_on_the_principal_and_deny_conditions(policy: Policy) -> None:
    contractor = principal("writer", team="contractors")
    decision = policy.check(contractor, "tools", "fs/read_file")
    assert not decision.allowed and decision.rule == "writer.deny[0].tools[0]"
    assert policy.check(principal("writer", team="staff"), "tools", "fs/read_file").allowed


def test_audit_line_per_decision(policy: Policy, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentgw.audit")
    with pytest.raises(PermissionDenied):
        policy.require(principal("developer"), "llm.chat/completions", "models", "gpt-4o")
    policy.authorize(principal("developer"), "llm.chat/completions", "models", "gpt-4o-mini")
    lines = [r.getMessage() for r in caplog.records if r.name == "agentgw.audit"]
    assert len(lines) == 2
    assert (
        '"action":"llm.chat/completions","resource":"models:gpt-4o","decision":"deny","rule":"default-deny"'
        in lines[0]
    )
    assert '"decision":"allow","rule":"developer.allow[0].models[0]"' in lines[1]


def test_anonymous_mode_allows_everything_silently(caplog: pytest.LogCaptureFixture) -> None:
    policy = Policy(RBACConfig(), enforce=False)
    assert policy.check(ANONYMOUS, "tools", "fs/delete_everything").allowed
    assert policy.filter(ANONYMOUS, "x", "models", ["a", "b"]) == ["a", "b"]
    assert not [r for r in caplog.records if r.name == "agentgw.audit"]


def test_many_patterns_in_one_role_report_the_matching_rule() -> None:
    patterns = [f"m{i}-*" for i in range(200)] + ["*/x*y*z"]
    config = RBACConfig.model_validate({"roles": {"big": {"allow": {"models": patterns}}}})
    policy = Policy(config, enforce=True)
    assert policy.check(principal("big"), "models", "m137-large").rule == "big.allow[0].models[137]"
    assert policy.check(principal("big"), "models", "a/xAyBz").rule == "big.allow[0].models[200]"


@pytest.mark.parametrize(("audit", "lines"), [("all", 3), ("deny", 1), ("off", 0)])
def test_audit_setting(audit: str, lines: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentgw.audit")
    config = RBACConfig.model_validate({"roles": {"r": {"allow": {"models": ["a"]}}}, "audit": audit})
    policy = Policy(config, enforce=True)
    policy.authorize(principal("r"), "llm.chat/completions", "models", "a")
    policy.authorize(principal("r"), "llm.chat/completions", "models", "b")
    policy.filter(principal("r"), "llm.models/list", "models", ["a", "b"])
    written = [r.getMessage() for r in caplog.records if r.name == "agentgw.audit"]
    assert len(written) == lines
    assert audit != "deny" or '"decision":"deny"' in written[0]
