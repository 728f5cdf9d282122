"""The ``auth`` suite: the LLM route with authentication and RBAC (20 roles, 200 rules) vs without (issue 7).

Two gateways in front of the same upstream (``examples/echo_llm.py``, which answers at once), alike but
for ``auth:`` and ``rbac:``: one in anonymous mode, one that requires an API key
(``Authorization: Bearer``) and decides every request against 20 roles of 10 rules each (globs, deny
rules, the key's role among them), writing the audit line of each decision. They are compared on a
~1 KB non-streaming chat completion at concurrency 1 and 32, in alternating runs; the summary's
``rbac_added_p50_ms`` is the p50 latency added at concurrency 1. A third gateway with
``rbac.audit: deny`` (no audit line for an allowed request) shows what the audit lines cost; the
in-process costs of one decision (authenticate + authorize, no HTTP) and of one audit line (to
``/dev/null``) are printed too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import time

import httpx2

from agentgw.auth.api_keys import ApiKeyStore, hash_key
from agentgw.auth.middleware import Authenticator
from agentgw.auth.principal import Principal
from agentgw.config.auth import AuthConfig
from agentgw.config.rbac import RBACConfig
from agentgw.rbac.audit import audit_decision
from agentgw.rbac.policy import Policy
from bench._harness import Comparison, Options, compare, comparison_table, load_generator
from bench._load import Target
from bench._processes import REPO, gateway, python_server
from bench.errors import BenchError
from bench.llm import chat_body, gateway_config

__all__ = ["run"]

CONCURRENCIES = (1, 32)
ROLES = 20
RULES_PER_ROLE = 10
_MODEL = "bench"
_KEY = "agw_bench-key-not-a-secret"
_KEY_ROLE = "role-13"


def run(options: Options) -> str:
    """Run the suite, print its table, and return the summary line.

    Raises:
        BenchError: a process did not start or a request failed.
    """
    generator = load_generator()
    with (
        python_server(REPO / "examples" / "echo_llm.py", ready_path="/v1/models") as (upstream, _),
        gateway(gateway_config(upstream)) as (open_url, _),
        gateway(auth_config(upstream)) as (auth_url, auth_process),
        gateway(auth_config(upstream, audit="deny")) as (quiet_url, _),
    ):
        baseline = Target("no auth", f"{open_url}/v1/chat/completions", chat_body(_MODEL))
        guarded = Target(
            "auth + rbac",
            f"{auth_url}/v1/chat/completions",
            chat_body(_MODEL),
            headers=(("authorization", f"Bearer {_KEY}"),),
        )
        _check(baseline, 200)
        _check(guarded, 200)
        _check(Target("no key", guarded.url, guarded.body), 401)
        _check(Target("denied model", guarded.url, chat_body("gpt-4o"), guarded.headers), 403)
        comparisons = compare(generator, baseline, guarded, CONCURRENCIES, options)
        quiet = Target("refusals audited", f"{quiet_url}/v1/chat/completions", guarded.body, guarded.headers)
        _check(quiet, 200)
        deny_only = compare(generator, baseline, quiet, CONCURRENCIES, options)
        rss_mb = auth_process.rss_mb()
    decision_us = _decision_us(upstream="http://127.0.0.1:1")
    audit_us = _audit_line_us()

    _print_report(options, generator.name, generator.client_bound, list(comparisons.values()))
    print("the same with rbac.audit: deny (audit lines for refusals only; this load has none) vs no auth:")
    for line in comparison_table(list(deny_only.values()), baseline="no auth"):
        print(line.replace("gateway cost", "auth cost   ").replace("gateway     ", "audit: deny "))
    print(f"in-process: authenticate (API key) + authorize p50 {decision_us:.2f} us per request")
    print(f"in-process: one audit line (JSON, logging to /dev/null) {audit_us:.2f} us")
    print(f"gateway (auth + rbac) RSS after the load: {rss_mb:.1f} MB")
    c1, c32 = comparisons[1], comparisons[32]
    return (
        f"auth: rbac_added_p50_ms={c1.added_p50_ms:.3f} added_p99_ms={c1.added_p99_ms:.3f}"
        f" rps_ratio={c32.rps_ratio:.3f} decision_us={decision_us:.2f} audit_line_us={audit_us:.2f}"
        f" audit_deny_added_p50_ms={deny_only[1].added_p50_ms:.3f} audit_deny_rps_ratio={deny_only[32].rps_ratio:.3f}"
    )


def rbac_section() -> dict[str, object]:
    """20 roles x 10 rules: allow and deny globs over models, tools and agents; ``role-13`` allows ``bench``."""
    roles: dict[str, object] = {}
    for r in range(ROLES):
        allow = [
            {"models": [f"team{r}-model-{i}-*", f"gpt-{r}.{i}"], "tools": [f"srv{r}/tool{i}*"]}
            for i in range(7)
        ]
        allow.append({"agents": [f"agent-{r}", f"helper-{r}/skill-*"]})
        allow.append({"models": ["claude-*", "bench" if f"role-{r}" == _KEY_ROLE else f"bench-{r}"]})
        deny = [{"models": [f"*-preview-{r}", "o1-*"], "tools": ["*/delete*"]}]
        roles[f"role-{r}"] = {"allow": allow, "deny": deny}
    return {"roles": roles}


def auth_config(upstream: str, *, audit: str = "all") -> dict[str, object]:
    """The bench key, 50 other keys and :func:`rbac_section` with ``rbac.audit: audit``."""
    config = gateway_config(upstream)
    config["auth"] = {
        "api_keys": [
            {"name": "bench", "key_sha256": hash_key(_KEY), "roles": [_KEY_ROLE, "role-2"], "team": "perf"},
            *(
                {"name": f"other-{i}", "key_sha256": hash_key(f"other-{i}"), "roles": [f"role-{i % ROLES}"]}
                for i in range(50)
            ),
        ]
    }
    config["rbac"] = {**rbac_section(), "audit": audit}
    return config


def _decision_us(upstream: str) -> float:
    """Median cost of authenticating the API key and authorizing the model, in-process."""
    auth = AuthConfig.model_validate(auth_config(upstream)["auth"])
    policy = Policy(RBACConfig.model_validate(rbac_section()), enforce=True)
    authenticator = Authenticator(auth, ApiKeyStore(auth.api_keys), None)
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {_KEY}".encode())]}

    async def measure() -> list[float]:
        samples = []
        for _ in range(20_000):
            start = time.perf_counter()
            principal = await authenticator.authenticate(scope)
            if not policy.check(principal, "models", _MODEL).allowed:
                raise BenchError("the bench key is not allowed the bench model")
            samples.append((time.perf_counter() - start) * 1e6)
        return samples

    return statistics.median(asyncio.run(measure()))


def _audit_line_us() -> float:
    """Mean cost of one audit line through a handler formatted as the gateway's, to /dev/null."""
    logger = logging.getLogger("agentgw.audit")
    principal = Principal(
        "key:bench", frozenset({_KEY_ROLE}), "perf", key_name="bench", auth_method="api_key"
    )
    saved = (logger.handlers[:], logger.level, logger.propagate)
    with open(os.devnull, "w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
        try:
            start = time.perf_counter()
            for _ in range(20_000):
                audit_decision(
                    principal, "llm.chat/completions", f"models:{_MODEL}", True, "role-13.allow[8].models[1]"
                )
            return (time.perf_counter() - start) / 20_000 * 1e6
        finally:
            logger.handlers[:] = saved[0]
            logger.setLevel(saved[1])
            logger.propagate = saved[2]


def _check(target: Target, status: int) -> None:
    headers = {"content-type": "application/json", **dict(target.headers)}
    response = httpx2.post(target.url, content=target.body, headers=headers, trust_env=False)
    if response.status_code != status:
        raise BenchError(
            f"{target.name}: HTTP {response.status_code}, expected {status}: {response.text[:300]}"
        )


def _print_report(
    options: Options, generator: str, client_bound: bool, comparisons: list[Comparison]
) -> None:
    runs = options.repetitions
    print(
        f"auth: 1024 B chat completion, non-streaming; API key + RBAC ({ROLES} roles,"
        f" {ROLES * RULES_PER_ROLE} rules, audit line per decision) vs anonymous mode; load by {generator};"
        f" {options.duration_s:g} s per run, median of {runs} run{'s' if runs > 1 else ''}"
    )
    if client_bound:
        print("note: wrk is not installed; the Python client sets the pace at c=32: rps are client-bound")
    for line in comparison_table(comparisons, baseline="no auth"):
        print(line.replace("gateway cost", "auth cost   ").replace("gateway     ", "auth + rbac "))
