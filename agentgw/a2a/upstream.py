"""One upstream agent: its pooled connections, its credential, its cached card.

Each configured agent gets one :class:`AgentClient` at start-up (and keeps it across reloads that do
not change its config). A2A requests are forwarded as bytes over :class:`~agentgw.upstream.HTTPPool`,
the gateway's keep-alive client for proxy hot paths (one pool per origin the agent uses, normally
one); the card, fetched once per ``card_ttl_s``, comes through an ``httpx2`` client, as every
request off the hot path does. The gateway's credential for the agent is added to every request;
nothing of the client's own credential is sent. Errors of either stack are translated into the
gateway's tree here.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx2
import orjson

from agentgw.a2a.events import EventFramer, ResultTally
from agentgw.config.a2a import AgentConfig, BasicAuth, BearerAuth
from agentgw.errors import UpstreamError, UpstreamStatus, UpstreamTimeout, UpstreamUnreachable
from agentgw.upstream import (
    HTTPPool,
    PoolTimeouts,
    UpstreamConnectError,
    UpstreamHTTPResponse,
    UpstreamReadError,
)

__all__ = ["AgentClient", "AgentResponse", "build_agents"]

log = logging.getLogger("agentgw")

_RELAYED_HEADERS = frozenset({b"a2a-extensions", b"a2a-version", b"retry-after"})
_CARD_LIMIT = 1024 * 1024
_CARD_TIMEOUT_S = 10.0
_CARD_RETRY_S = 5.0
"""After a failed refresh, how long a stale card is served before the next attempt."""
_WELL_KNOWN = ("/.well-known/agent-card.json", "/.well-known/agent.json")


class AgentResponse:
    """An agent's response whose headers have arrived (an ``UpstreamResponse`` for :class:`SSERelay`).

    Streamed through :meth:`aiter_bytes`, it yields whole SSE events and reads them into ``tally``.
    """

    def __init__(self, response: UpstreamHTTPResponse, agent: str, deadline: float) -> None:
        self._response = response
        self._agent = agent
        self.status = response.status
        self.content_type = response.header(b"content-type", "application/json")
        self.deadline = deadline
        self.relay_headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in response.headers
            if name in _RELAYED_HEADERS
        }
        self.tally = ResultTally()
        self.bytes = 0

    @property
    def is_event_stream(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        framer = EventFramer()
        async for chunk in self._raw():
            events = framer.feed(chunk)
            if events:
                self.tally.observe_events(events)
                yield events
        rest = framer.flush()
        if rest:
            self.tally.observe_events(rest)
            yield rest

    async def read(self, limit: int) -> bytes:
        body = bytearray()
        async for chunk in self._raw():
            body += chunk
            if len(body) > limit:
                raise UpstreamUnreachable(
                    f"agent '{self._agent}' sent a response over the {limit}-byte limit", backend=self._agent
                )
        return bytes(body)

    async def _raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                self.bytes += len(chunk)
                yield chunk
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"agent '{self._agent}' stopped sending (read timeout)", backend=self._agent
            ) from exc
        except UpstreamReadError as exc:
            raise UpstreamUnreachable(
                f"agent '{self._agent}' broke the connection: {exc}", backend=self._agent
            ) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class AgentClient:
    """Forwards A2A requests to one agent over pooled keep-alive connections, and caches its card."""

    def __init__(self, name: str, config: AgentConfig) -> None:
        self.name = name
        self.config = config
        self.jsonrpc_url = config.url
        headers = {key: value.get_secret_value() for key, value in config.headers.items()}
        if isinstance(config.auth, BearerAuth):
            headers["authorization"] = f"Bearer {config.auth.token.get_secret_value()}"
        elif isinstance(config.auth, BasicAuth):
            pair = f"{config.auth.username}:{config.auth.password.get_secret_value()}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self._headers = headers
        self._timeouts = PoolTimeouts(config.timeouts.connect, config.timeouts.read)
        self._pools: dict[str, HTTPPool] = {}
        # Off the hot path: card fetches.
        self._client = httpx2.AsyncClient(
            headers=headers,
            timeout=httpx2.Timeout(_CARD_TIMEOUT_S, connect=config.timeouts.connect),
            limits=httpx2.Limits(max_connections=2, max_keepalive_connections=1),
            follow_redirects=False,
            trust_env=False,
        )
        self._card: dict[str, Any] | None = None
        self._card_expires = 0.0
        self._card_lock = asyncio.Lock()

    async def send(
        self, method: str, url: str, *, body: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> AgentResponse:
        """Send one request to ``url`` (an agent URL with its query); return once its headers arrived.

        The whole exchange must end within the agent's total timeout (``AgentResponse.deadline``).

        Raises:
            UpstreamTimeout: no response headers within the read timeout (or the total one).
            UpstreamUnreachable: the agent could not be reached.
        """
        pool, target = self._pool_for(url)
        sent: dict[str, str] = {}
        for name, value in headers:
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            sent[key] = f"{sent[key]}, {text}" if key in sent else text
        deadline = asyncio.get_running_loop().time() + self.config.timeouts.total
        try:
            async with asyncio.timeout_at(deadline):
                response = await pool.request(method, target, body, headers=sent)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"agent '{self.name}' did not answer in time", backend=self.name) from exc
        except (UpstreamConnectError, UpstreamReadError) as exc:
            raise UpstreamUnreachable(
                f"agent '{self.name}' is unreachable: {exc}", backend=self.name
            ) from exc
        return AgentResponse(response, self.name, deadline)

    def _pool_for(self, url: str) -> tuple[HTTPPool, str]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        pool = self._pools.get(origin)
        if pool is None:
            pool = HTTPPool(
                origin,
                headers=self._headers,
                timeouts=self._timeouts,
                max_connections=self.config.max_connections,
            )
            self._pools[origin] = pool
        return pool, url[len(origin) :].lstrip("/")

    async def rest_url(self, version: str) -> str:
        """Base URL of the agent's HTTP+JSON binding for protocol ``version``.

        ``rest_url`` when configured; else the HTTP+JSON interface the agent's card lists for that
        version (or any), if it is on the same origin as ``url`` (a card does not get to send the
        gateway to another host); else ``url``.
        """
        if self.config.rest_url is not None:
            return self.config.rest_url
        try:
            card = await self.card()
        except UpstreamError:
            return self.config.url  # the request will fail with the reason, in its own words
        url = _interface_url(card, "HTTP+JSON", version)
        if url is None:
            return self.config.url
        if urlsplit(url)[:2] != urlsplit(self.config.url)[:2]:
            log.warning(
                "agent %r: ignoring the HTTP+JSON URL of its card, %s: not on the origin of url",
                self.name,
                url,
            )
            return self.config.url
        return url.rstrip("/")

    async def card(self) -> dict[str, Any]:
        """The agent's card as it publishes it, fetched at most once per ``card_ttl_s``.

        When a refresh fails the previous card is served a little longer (an agent that restarts does
        not make its card vanish from the gateway); with no card yet, the failure is raised.

        Raises:
            UpstreamError: the card could not be fetched or is not a JSON object.
        """
        if self._card is not None and time.monotonic() < self._card_expires:
            return self._card
        async with self._card_lock:
            now = time.monotonic()
            if self._card is not None and now < self._card_expires:
                return self._card
            try:
                self._card = await self._fetch_card()
            except UpstreamError as error:
                if self._card is None:
                    raise
                log.warning("agent %r: serving its previous card: %s", self.name, error.message)
                self._card_expires = now + _CARD_RETRY_S
                return self._card
            self._card_expires = now + self.config.card_ttl_s
            return self._card

    async def _fetch_card(self) -> dict[str, Any]:
        urls = [self.config.card_url] if self.config.card_url else [self.config.url + p for p in _WELL_KNOWN]
        for index, url in enumerate(urls):
            status, content_type, body = await self._get(url)
            if status == 404 and index + 1 < len(urls):
                continue  # agents before A2A 0.3 publish /.well-known/agent.json
            if status != 200:
                raise UpstreamStatus(status, body, content_type, backend=self.name)
            try:
                card = orjson.loads(body)
            except orjson.JSONDecodeError:
                card = None
            if not isinstance(card, dict):
                raise UpstreamError(
                    f"agent '{self.name}' served a card that is not a JSON object", backend=self.name
                )
            return card
        raise AssertionError("unreachable: the last URL either returns or raises")

    async def _get(self, url: str) -> tuple[int, str, bytes]:
        body = bytearray()
        try:
            async with (
                asyncio.timeout(_CARD_TIMEOUT_S),
                self._client.stream("GET", url, headers={"accept": "application/json"}) as response,
            ):
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > _CARD_LIMIT:
                        raise UpstreamError(
                            f"agent '{self.name}' sent a card over {_CARD_LIMIT} bytes", backend=self.name
                        )
        except (httpx2.TimeoutException, TimeoutError) as exc:
            raise UpstreamTimeout(
                f"agent '{self.name}' did not send its card in time", backend=self.name
            ) from exc
        except httpx2.HTTPError as exc:
            raise UpstreamUnreachable(
                f"agent '{self.name}' is unreachable: {_reason(exc)}", backend=self.name
            ) from exc
        return response.status_code, response.headers.get("content-type", ""), bytes(body)

    async def aclose(self) -> None:
        await self._client.aclose()
        for pool in self._pools.values():
            await pool.aclose()


def build_agents(
    configs: Mapping[str, AgentConfig], current: Mapping[str, AgentClient]
) -> tuple[dict[str, AgentClient], list[AgentClient]]:
    """Clients for ``configs``, reusing those of ``current`` whose config did not change.

    Returns the new clients by name and the clients of ``current`` no longer used (to be closed once
    the requests using them have ended). Reused clients keep their connections and cached cards.
    """
    agents = {}
    for name, config in configs.items():
        previous = current.get(name)
        agents[name] = (
            previous if previous is not None and previous.config == config else AgentClient(name, config)
        )
    kept = {id(agent) for agent in agents.values()}
    return agents, [agent for agent in current.values() if id(agent) not in kept]


def _interface_url(card: Mapping[str, Any], binding: str, version: str) -> str | None:
    """The URL ``card`` lists for ``binding`` at ``version`` (else at any version), 1.0 or 0.3 layout."""
    candidates: list[tuple[str, str]] = []  # (url, version)
    interfaces = card.get("supportedInterfaces")
    if isinstance(interfaces, list):
        for i in interfaces:
            if isinstance(i, dict) and i.get("protocolBinding") == binding and isinstance(i.get("url"), str):
                candidates.append((i["url"], str(i.get("protocolVersion", ""))))
    legacy_version = str(card.get("protocolVersion", "0.3"))
    if card.get("preferredTransport") == binding and isinstance(card.get("url"), str):
        candidates.append((card["url"], legacy_version))
    extra = card.get("additionalInterfaces")
    if isinstance(extra, list):
        for i in extra:
            if isinstance(i, dict) and i.get("transport") == binding and isinstance(i.get("url"), str):
                candidates.append((i["url"], legacy_version))
    for url, offered in candidates:
        if offered == version or offered.startswith(version + "."):
            return url
    return candidates[0][0] if candidates else None


def _reason(exc: httpx2.HTTPError) -> str:
    return str(exc) or type(exc).__name__
