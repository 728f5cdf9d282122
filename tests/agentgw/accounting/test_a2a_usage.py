"""A2A usage records: one per request to an agent, with its bytes and per-call price."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.a2a.conftest import Agents, agents, gateway_yaml
from tests.agentgw.accounting.support import accounting_yaml, read_records, sqlite_url
from tests.support.servers import serve_app

__all__ = ["agents"]  # the a2a tests' module fixture: real a2a-sdk agents on 127.0.0.1

V1 = {"A2A-Version": "1.0"}


def _send(text: str) -> dict[str, object]:
    message = {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": text}]}
    return {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}


@pytest.mark.timeout(60)
def test_a2a_requests_are_recorded(agents: Agents, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    text = gateway_yaml(agents) + accounting_yaml(url, prices="{agents: {echo: 0.01}}")
    with serve_app(create_app(parse_config(text))) as gateway:
        answer = httpx2.post(f"{gateway}/a2a/echo", json=_send("hello agent"), headers=V1, timeout=10)
        assert answer.status_code == 200 and "result" in answer.json()
        missing = httpx2.post(f"{gateway}/a2a/dead", json=_send("anyone?"), headers=V1, timeout=10)
        assert "error" in missing.json()
    records = read_records(url)
    assert [(r.kind, r.target, r.operation) for r in records] == [
        ("a2a", "echo", "SendMessage"),
        ("a2a", "dead", "SendMessage"),
    ]
    echo, dead = records
    assert echo.status == 200 and echo.error_type is None and echo.cost_usd == 0.01
    assert (echo.bytes_in or 0) > 0 and (echo.bytes_out or 0) > 0
    assert dead.error_type is not None and dead.cost_usd == 0.0  # a failed call is not billed
