"""The limiter on its own: which rules govern whom, windows that reset with the clock, usage correction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentgw.auth.principal import ANONYMOUS, Principal
from agentgw.config import parse_config
from agentgw.config.model import GatewayConfig
from agentgw.exchange import Exchange, Usage
from agentgw.limits import Limits, QuotaExceeded, RateLimited
from agentgw.limits.estimate import estimate_tokens
from agentgw.limits.memory_store import MemoryStore

pytestmark = pytest.mark.anyio

ALICE = Principal("key:alice", frozenset({"dev"}), team="platform", key_name="alice", auth_method="api_key")
BOB = Principal("key:bob", frozenset({"ops"}), team="platform", key_name="bob", auth_method="api_key")


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now


def setup(yaml: str, clock: Clock) -> tuple[Limits, GatewayConfig]:
    config = parse_config(yaml)
    return Limits(config.limits, clock=clock, store=MemoryStore(clock)), config


async def admit(limits: Limits, config: GatewayConfig, principal: Principal, tokens: int) -> Exchange:
    exchange = Exchange("llm", "/v1/chat/completions", "chat")
    exchange.target = "gpt-4o-mini"
    await limits.admit_llm(config, principal, exchange, {"messages": [], "max_tokens": tokens - 1})
    return exchange


async def test_a_day_budget_resets_at_midnight_utc_and_a_month_budget_on_the_first() -> None:
    clock = Clock(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    limits, config = setup(
        """
limits:
  budgets:
    - {scope: principal, period: day, tokens: 100}
    - {scope: team, period: month, tokens: 250}
""",
        clock,
    )
    await admit(limits, config, ALICE, 100)
    with pytest.raises(QuotaExceeded) as spent:
        await admit(limits, config, ALICE, 1)
    assert spent.value.retry_after_s == 60  # until 00:00 UTC
    assert spent.value.headers["x-ratelimit-remaining-tokens"] == "0"
    assert spent.value.headers["x-should-retry"] == "false"
    await admit(limits, config, BOB, 100)  # bob has his own day, the team's month is shared
    clock.now = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC).timestamp()
    await admit(limits, config, ALICE, 100)  # a new day and a new month
    await admit(limits, config, BOB, 100)
    clock.now = datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC).timestamp()
    await admit(limits, config, ALICE, 50)  # a new day, but the team's December has 50 left
    with pytest.raises(QuotaExceeded) as month:
        await admit(limits, config, BOB, 1)
    assert month.value.details["scope"] == "team" and month.value.details["period"] == "month"
    assert month.value.retry_after_s == 29 * 86_400 + 86_399  # until 2027-01-01 00:00 UTC


async def test_minute_windows_reset_with_the_clock() -> None:
    clock = Clock(datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC))
    limits, config = setup(
        "limits: {window: fixed, rate_limits: [{scope: key, requests_per_minute: 2}]}", clock
    )
    for _ in range(2):
        await limits.admit_call(config, ALICE, "mcp", "weather_get")
    with pytest.raises(RateLimited) as limited:
        await limits.admit_call(config, ALICE, "mcp", "weather_get")
    assert limited.value.headers["retry-after"] == "60"
    assert limited.value.headers["x-ratelimit-limit-requests"] == "2"
    await limits.admit_call(config, ANONYMOUS, "mcp", "weather_get")  # no key: the rule does not apply
    clock.now += 60
    await limits.admit_call(config, ALICE, "mcp", "weather_get")


async def test_the_first_matching_rule_of_a_scope_wins_and_roles_filter() -> None:
    clock = Clock(datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC))
    limits, config = setup(
        """
rbac: {roles: {dev: {}, ops: {}}}
limits:
  rate_limits:
    - {scope: principal, match: "key:alice", requests_per_minute: 3}
    - {scope: principal, requests_per_minute: 1}
    - {scope: team, roles: [ops], requests_per_minute: 100, kinds: [a2a]}
""",
        clock,
    )
    for _ in range(3):
        await limits.admit_call(config, ALICE, "a2a", "planner")
    with pytest.raises(RateLimited):
        await limits.admit_call(config, ALICE, "a2a", "planner")
    await limits.admit_call(config, BOB, "a2a", "planner")
    with pytest.raises(RateLimited) as limited:
        await limits.admit_call(config, BOB, "a2a", "planner")
    assert limited.value.details["value"] == "key:bob"


async def test_settling_replaces_the_estimate_with_the_reported_usage() -> None:
    clock = Clock(datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC))
    limits, config = setup(
        """
accounting: {prices: {models: {gpt-4o-mini: {input_per_mtok: 1000000, output_per_mtok: 2000000}}}}
limits: {budgets: [{scope: model, period: day, tokens: 1000, cost_usd: 5000}]}
""",
        clock,
    )
    exchange = await admit(limits, config, ALICE, 400)
    exchange.status, exchange.usage = 200, Usage(input_tokens=30, output_tokens=20)
    limits.settle(exchange)
    store = limits.store
    assert isinstance(store, MemoryStore)
    assert store.value("tokens:model:day:gpt-4o-mini:d20261121") == 50
    assert store.value("usd:model:day:gpt-4o-mini:d20261121") == 70 * 1_000_000  # 30 x $1 + 20 x $2
    failed = await admit(limits, config, ALICE, 400)
    failed.status = 502  # the upstream failed: nothing was generated, the reservation is given back
    limits.settle(failed)
    assert store.value("tokens:model:day:gpt-4o-mini:d20261121") == 50
    silent = await admit(limits, config, ALICE, 400)
    silent.status = 200  # no usage reported: the estimate stands
    limits.settle(silent)
    assert store.value("tokens:model:day:gpt-4o-mini:d20261121") == 450


def test_the_estimate_counts_text_and_the_output_cap_but_not_inline_images() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "x" * 400}]},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10**6}}
                ],
            },
        ],
        "max_tokens": 50,
    }
    prompt, output = estimate_tokens(body)
    assert 100 <= prompt < 110 and output == 50


async def test_no_rules_no_work() -> None:
    clock = Clock(datetime(2026, 11, 21, tzinfo=UTC))
    limits, config = setup("{}", clock)
    exchange = await admit(limits, config, ALICE, 10)
    assert "limits" not in exchange.state


async def test_a_reload_applies_new_limits_to_the_counts_so_far() -> None:
    clock = Clock(datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC))
    limits, config = setup("limits: {rate_limits: [{scope: principal, requests_per_minute: 2}]}", clock)
    for _ in range(2):
        await limits.admit_call(config, ALICE, "a2a", "planner")
    raised = parse_config("limits: {rate_limits: [{scope: principal, requests_per_minute: 3}]}")
    await limits.admit_call(raised, ALICE, "a2a", "planner")
    with pytest.raises(RateLimited):
        await limits.admit_call(raised, ALICE, "a2a", "planner")
