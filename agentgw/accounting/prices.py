"""The price catalogue: what one request cost, in USD, from the configured prices.

Prices are looked up by the name the client used (the model it asked for, the federated tool name,
the agent): exact names first, then glob patterns in the order written. The answer for a name is
cached, so a lookup on the request path is one dictionary hit after the first.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Generic, TypeVar

from agentgw.config.accounting import ModelPrice, PricesConfig
from agentgw.exchange import Usage

__all__ = ["Prices"]

_T = TypeVar("_T")
_PER_MTOK = 1e-6


class _Catalogue(Generic[_T]):
    """Name -> price, exact names before patterns, memoised per name."""

    def __init__(self, prices: dict[str, _T]) -> None:
        self._exact = {name: price for name, price in prices.items() if not _is_pattern(name)}
        self._patterns = [(name, price) for name, price in prices.items() if _is_pattern(name)]
        self._cache: dict[str, _T | None] = {}

    def find(self, name: str) -> _T | None:
        try:
            return self._cache[name]
        except KeyError:
            pass
        price = self._exact.get(name)
        if price is None:
            price = next((p for pattern, p in self._patterns if fnmatchcase(name, pattern)), None)
        if len(self._cache) < 10_000:  # names come from clients: bound the memo
            self._cache[name] = price
        return price


class Prices:
    """USD cost of a request from the ``accounting.prices`` section."""

    def __init__(self, config: PricesConfig) -> None:
        self._models = _Catalogue(dict(config.models))
        self._tools = _Catalogue(dict(config.tools))
        self._agents = _Catalogue(dict(config.agents))

    def cost(self, *, kind: str, target: str | None, usage: Usage) -> float:
        """USD for one request; ``0.0`` when no price matches.

        ``kind`` is ``llm`` (``target`` is the model name; priced per million input, cached-input and
        output tokens), ``mcp`` (``target`` is the federated tool name ``<server>_<tool>``; priced per
        call) or ``a2a`` (``target`` is the agent; priced per call).
        """
        if target is None:
            return 0.0
        if kind == "llm":
            price = self._models.find(target)
            return 0.0 if price is None else _token_cost(price, usage)
        catalogue = self._tools if kind == "mcp" else self._agents if kind == "a2a" else None
        if catalogue is None:
            return 0.0
        per_call = catalogue.find(target)
        return 0.0 if per_call is None else per_call


def _token_cost(price: ModelPrice, usage: Usage) -> float:
    # Usage.input_tokens includes the cache reads (OpenAI's convention, which the providers map to).
    input_tokens = usage.input_tokens or 0
    cached = min(usage.cache_read_input_tokens or 0, input_tokens)
    cached_price = (
        price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    )
    return (
        (input_tokens - cached) * price.input_per_mtok
        + cached * cached_price
        + (usage.output_tokens or 0) * price.output_per_mtok
    ) * _PER_MTOK


def _is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")
