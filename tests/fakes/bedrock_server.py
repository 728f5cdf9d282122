"""A fake Amazon Bedrock runtime on 127.0.0.1: ``POST /model/{modelId}/converse`` and ``/converse-stream``.

Every request's SigV4 signature is checked by recomputing it with botocore's signer (the oracle,
in tests only) over the request as received; a mismatch is AWS's 403 ``InvalidSignatureException``.
Bodies are checked as Converse does (no unknown keys such as ``model``, alternating roles starting
with ``user``, known content blocks, tool results answering tool uses, image formats). Answers use
Converse's shapes (``output.message.content``, ``stopReason``, ``usage`` in camelCase, ``metrics``),
errors Bedrock's ``{"message"}`` body with ``x-amzn-ErrorType``, streams the AWS event-stream framing
(``messageStart``, ``contentBlockStart`` for tool use, ``contentBlockDelta``, ``contentBlockStop``,
``messageStop``, ``metadata``; each payload padded with a ``p`` field as Bedrock does). Models:

- any id: echoes the last user text; with tools and "weather" in it, calls the first tool
- ``...status-<code>``: Bedrock's error for that status (429 ThrottlingException, 500, 503)
- ``...stream-error``: a stream that sends a ``modelStreamErrorException`` after its first delta
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from agentgw.llm.providers._eventstream import encode_message

ACCESS_KEY = "AKIAFAKEBEDROCK00001"
SECRET_KEY = "fake/secret+key/for/bedrock/tests0000000"
REGION = "us-west-2"
_ERRORS = {
    400: ("ValidationException", "Malformed input request"),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}
_TOP_KEYS = {"messages", "system", "inferenceConfig", "toolConfig", "additionalModelRequestFields"}
_BLOCK_KEYS = {"text", "image", "toolUse", "toolResult", "document", "reasoningContent"}


@dataclass
class Received:
    path: str
    model: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeBedrock:
    requests: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/model/{model:path}/converse", self._converse, methods=["POST"]),
                Route("/model/{model:path}/converse-stream", self._converse, methods=["POST"]),
            ]
        )

    def _error(self, status: int, message: str | None = None, kind: str | None = None) -> Response:
        default_kind, default_message = _ERRORS.get(status, ("InternalServerException", "error"))
        headers = {
            "x-amzn-requestid": str(uuid.uuid4()),
            "x-amzn-errortype": f"{kind or default_kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        }
        body = orjson.dumps({"message": message or default_message})
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    def _signature_ok(self, request: Request, raw_path: str, body: bytes) -> bool:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"):
            return False
        signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        headers = {name: request.headers[name] for name in signed if name in request.headers}
        aws = AWSRequest(method="POST", url=f"http://{headers['host']}{raw_path}", data=body, headers=headers)
        aws.context["timestamp"] = request.headers.get("x-amz-date", "")
        auth = SigV4Auth(
            Credentials(ACCESS_KEY, SECRET_KEY, request.headers.get("x-amz-security-token")),
            "bedrock",
            REGION,
        )
        canonical = auth.canonical_request(aws)
        expected = auth.signature(auth.string_to_sign(aws, canonical), aws)
        return authorization.endswith(f"Signature={expected}")

    def _invalid(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "Malformed input request"
        extra = set(body) - _TOP_KEYS
        if extra:
            return f"Malformed input request: extraneous key [{sorted(extra)[0]}] is not permitted"
        messages = body.get("messages") or []
        if not messages or messages[0].get("role") != "user":
            return "A conversation must start with a user message."
        uses: set[str] = set()
        for index, message in enumerate(messages):
            if index and message["role"] == messages[index - 1]["role"]:
                return "A conversation must alternate between user and assistant roles."
            for block in message.get("content") or []:
                if len(block) != 1 or next(iter(block)) not in _BLOCK_KEYS:
                    return f"messages.{index}.content: invalid content block {sorted(block)}"
                if "toolUse" in block:
                    uses.add(block["toolUse"]["toolUseId"])
                if "toolResult" in block and block["toolResult"]["toolUseId"] not in uses:
                    return "The toolResult blocks do not match the toolUse blocks of the previous turn."
                if "image" in block and block["image"].get("format") not in ("png", "jpeg", "gif", "webp"):
                    return "Unsupported image format"
                if "text" in block and not block["text"]:
                    return "The text field in the ContentBlock object is blank."
        return None

    async def _converse(self, request: Request) -> Response:
        raw_path = request.scope["raw_path"].decode()
        body_bytes = await request.body()
        model = unquote(raw_path.split("/")[2])
        stream = raw_path.endswith("/converse-stream")
        body = orjson.loads(body_bytes)
        self.requests.append(Received(raw_path, model, dict(request.headers), body))
        if not self._signature_ok(request, raw_path, body_bytes):
            message = (
                "The request signature we calculated does not match the signature you provided."
                " Check your AWS Secret Access Key and signing method."
            )
            return self._error(403, message, "InvalidSignatureException")
        problem = self._invalid(body)
        if problem is not None:
            return self._error(400, problem)
        if "status-" in model:
            return self._error(int(model.rpartition("status-")[2]))
        content, stop = self._answer(body)
        output = sum(len(str(b.get("text", b.get("toolUse", ""))).split()) for b in content)
        usage = {
            "inputTokens": len(body_bytes) // 10,
            "outputTokens": output,
            "totalTokens": len(body_bytes) // 10 + output,
        }
        headers = {"x-amzn-requestid": str(uuid.uuid4())}
        if not stream:
            answer = {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": stop,
                "usage": usage,
                "metrics": {"latencyMs": 42},
            }
            return Response(orjson.dumps(answer), headers=headers, media_type="application/json")
        return StreamingResponse(
            self._events(model, content, stop, usage),
            headers=headers,
            media_type="application/vnd.amazon.eventstream",
        )

    def _answer(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        last = body["messages"][-1]["content"]
        results = [b["toolResult"] for b in last if "toolResult" in b]
        if results:
            text = "".join(part.get("text", "") for part in results[0]["content"])
            return [{"text": f"the tool said: {text}"}], "end_turn"
        text = " ".join(b["text"] for b in last if "text" in b)
        images = sum(1 for b in last if "image" in b)
        tools = (body.get("toolConfig") or {}).get("tools") or []
        if tools and "weather" in text:
            use = {
                "toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}",
                "name": tools[0]["toolSpec"]["name"],
                "input": {"city": "Paris", "unit": "celsius"},
            }
            return [{"text": "Let me check."}, {"toolUse": use}], "tool_use"
        return [{"text": f"echo: {text}" + (f" (+{images} image)" if images else "")}], "end_turn"

    async def _events(
        self, model: str, content: list[dict[str, Any]], stop: str, usage: dict[str, Any]
    ) -> Any:
        def event(kind: str, data: dict[str, Any]) -> bytes:
            headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
            return encode_message(
                headers, orjson.dumps({**data, "p": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"[: len(kind)]})
            )

        yield event("messageStart", {"role": "assistant"})
        for index, block in enumerate(content):
            if "text" in block:
                for n, word in enumerate(block["text"].split(" ")):
                    yield event(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"text": word if n == 0 else " " + word}},
                    )
                    if model.endswith("stream-error"):
                        headers = {
                            ":exception-type": "modelStreamErrorException",
                            ":content-type": "application/json",
                            ":message-type": "exception",
                        }
                        yield encode_message(headers, b'{"message":"The model stream failed."}')
                        return
            else:
                use = block["toolUse"]
                start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
                yield event("contentBlockStart", {"contentBlockIndex": index, "start": start})
                raw = orjson.dumps(use["input"]).decode()
                for piece in (raw[:9], raw[9:]):
                    yield event(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}},
                    )
            yield event("contentBlockStop", {"contentBlockIndex": index})
        yield event("messageStop", {"stopReason": stop})
        yield event("metadata", {"usage": usage, "metrics": {"latencyMs": 42}})
