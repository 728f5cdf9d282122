"""SigV4 against AWS's published test vectors and botocore's signer (a test-only oracle)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from agentgw.llm.providers._eventstream import EventStreamDecoder, EventStreamError, encode_message
from agentgw.llm.providers._sigv4 import AWSCredentials, sign

# aws-sig-v4-test-suite: the credentials, time, region and service all its vectors use.
SUITE = AWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "query", "signature"),
    [
        ("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),  # get-vanilla
        ("POST", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),  # post-vanilla
    ],
)
def test_published_vectors(method: str, query: str, signature: str) -> None:
    added = sign(
        method,
        "/",
        query,
        {"host": "example.amazonaws.com"},
        b"",
        credentials=SUITE,
        region="us-east-1",
        service="service",
        now=SUITE_TIME,
    )
    assert added["x-amz-date"] == "20150830T123600Z"
    assert added["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
        f" SignedHeaders=host;x-amz-date, Signature={signature}"
    )


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN"])
def test_bedrock_request_matches_botocore(token: str | None) -> None:
    path = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    body = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'
    headers = {"host": "bedrock-runtime.eu-west-1.amazonaws.com", "content-type": "application/json"}
    now = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
    ours = sign(
        "POST",
        path,
        "",
        headers,
        body,
        credentials=AWSCredentials("AKIDEXAMPLE", "secret/key+example", token),
        region="eu-west-1",
        service="bedrock",
        now=now,
    )
    request = AWSRequest(
        method="POST", url=f"https://{headers['host']}{path}", data=body, headers=dict(headers)
    )
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key+example", token), "bedrock", "eu-west-1")
    request.context["timestamp"] = now.strftime("%Y%m%dT%H%M%SZ")
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert "%253A0" in canonical  # the path is encoded once more in the canonical request
    assert ours["authorization"].endswith(f"Signature={expected}")
    assert ours.get("x-amz-security-token") == token


def test_event_stream_round_trip_in_pieces() -> None:
    messages = [
        encode_message({":event-type": "messageStart", ":message-type": "event"}, b'{"role":"assistant"}'),
        encode_message(
            {":event-type": "messageStop", ":message-type": "event"}, b'{"stopReason":"end_turn"}'
        ),
    ]
    data = b"".join(messages)
    decoder = EventStreamDecoder()
    out = []
    for i in range(0, len(data), 7):
        out += list(decoder.feed(data[i : i + 7]))
    assert out == [
        ({":event-type": "messageStart", ":message-type": "event"}, b'{"role":"assistant"}'),
        ({":event-type": "messageStop", ":message-type": "event"}, b'{"stopReason":"end_turn"}'),
    ]
    corrupt = bytearray(messages[0])
    corrupt[-6] ^= 0xFF
    with pytest.raises(EventStreamError):
        list(EventStreamDecoder().feed(bytes(corrupt)))
