"""Observers composed as one: telemetry, accounting and limits each see every hook, in order."""

from __future__ import annotations

from agentgw.exchange import Exchange, Observers, UpstreamCall, finish


class Log:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def start(self, exchange: Exchange) -> None:
        self.calls.append(f"{self.name}.start")

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        self.calls.append(f"{self.name}.upstream_start")
        call.headers[self.name] = "1"  # what each observer adds is sent upstream

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        self.calls.append(f"{self.name}.upstream_end")

    def end(self, exchange: Exchange) -> None:
        self.calls.append(f"{self.name}.end")


def test_nested_observers_see_every_hook_in_order() -> None:
    calls: list[str] = []
    observers = Observers(
        [Observers([Log("telemetry", calls), Log("accounting", calls)]), Log("limits", calls)]
    )
    exchange = Exchange("llm", "/v1/chat/completions", "chat")
    observers.start(exchange)
    call = UpstreamCall("fake")
    exchange.upstream.append(call)
    observers.upstream_start(exchange, call)
    finish(observers, exchange)  # ends the open upstream call, then the exchange
    names = ("telemetry", "accounting", "limits")
    assert calls == [
        f"{n}.{hook}" for hook in ("start", "upstream_start", "upstream_end", "end") for n in names
    ]
    assert call.headers == {"telemetry": "1", "accounting": "1", "limits": "1"}
    assert call.ended is not None and exchange.ended == call.ended


def test_no_observers() -> None:
    exchange = Exchange("mcp", "/mcp", "tools/list")
    finish(Observers(()), exchange)
    assert exchange.ended is not None
