"""An OTLP/HTTP sink for the benchmarks: accepts ``POST /v1/traces`` and ``/v1/metrics``, keeps nothing.

    python bench/_otlp_sink.py --port 4318

It stands where an OpenTelemetry Collector would, so the gateway under test pays for encoding and
sending its exports as it would in production.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    known = scope["method"] == "POST" and scope["path"] in ("/v1/traces", "/v1/metrics")
    status = 200 if known else (404 if scope["method"] == "POST" else 200)
    headers = [(b"content-type", b"application/x-protobuf"), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
