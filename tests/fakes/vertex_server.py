"""A fake Vertex AI endpoint on 127.0.0.1: Gemini through the OpenAI-compatible ``endpoints/openapi``
(answered as :class:`FakeOpenAI` does; the model must be ``google/...``) and Anthropic models
through ``publishers/anthropic/models/{model}:rawPredict``/``:streamRawPredict`` (answered as
:class:`FakeAnthropic` does, in Vertex's form). Only tokens :class:`FakeGoogleToken` issued pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.google_token_server import FakeGoogleToken
from tests.fakes.openai_server import FakeOpenAI

PROJECT = "test-project"
LOCATION = "europe-west4"
_BASE = "/v1/projects/{project}/locations/{location}"


@dataclass
class FakeVertex:
    tokens: FakeGoogleToken
    gemini: FakeOpenAI = field(default_factory=FakeOpenAI)
    claude: FakeAnthropic = field(default_factory=FakeAnthropic)

    def app(self) -> Starlette:
        self.gemini.token_ok = self.claude.token_ok = lambda token: token in self.tokens.issued
        return Starlette(
            routes=[
                Route(f"{_BASE}/endpoints/openapi/chat/completions", self._gemini, methods=["POST"]),
                Route(
                    f"{_BASE}/publishers/anthropic/models/{{model_method}}", self._claude, methods=["POST"]
                ),
            ]
        )

    def _where(self, request: Request) -> Response | None:
        if (request.path_params["project"], request.path_params["location"]) != (PROJECT, LOCATION):
            return Response(b'{"error": {"code": 404, "status": "NOT_FOUND"}}', status_code=404)
        return None

    async def _gemini(self, request: Request) -> Response:
        return self._where(request) or await self.gemini.chat(request)

    async def _claude(self, request: Request) -> Response:
        return self._where(request) or await self.claude.raw_predict(request)
