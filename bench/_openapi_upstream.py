"""The REST API behind the ``openapi`` suite's tool call: GitHub's ``GET /zen``, answered at once.

``python bench/_openapi_upstream.py --port N`` serves ``/zen`` (text, as GitHub's ``meta/get-zen``;
POST too, for load generators that only POST) on 127.0.0.1, so the gateway's cost of turning an MCP
tool call into the HTTP call is what is measured.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def zen(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Keep it logically awesome.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Starlette(routes=[Route("/zen", zen, methods=["GET", "POST"])])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", http="httptools", loop="uvloop")


if __name__ == "__main__":
    main()
