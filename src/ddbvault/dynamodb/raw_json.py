"""DynamoDB calls whose items stay in wire JSON, with botocore doing everything else.

botocore converts every attribute of every item between wire JSON (B as base64) and Python
values through its shape model. For Scan responses and BatchWriteItem requests that walk costs
several times the CPU of the HTTP exchange. These hooks skip that walk only. botocore still does
credentials, SigV4, endpoints, its standard retries, error parsing and the CRC32 check.

- `keep_raw_responses(client, "Scan")` (any DynamoDB or DynamoDB Streams client: the event is
  named by the client's own service id): the body of a successful (200) response is handed over
  as bytes under RAW_BODY in the result, and botocore parses an empty object instead. Error
  responses are parsed by botocore as usual.
- `send_raw_requests(client, "BatchWriteItem")`: the `with raw_request(body)` block makes that
  call send `body` (bytes) as its JSON body. The parameters passed to the client method are then
  only placeholders that pass validation. A thread-local holds the body, so threads may share
  a client; botocore emits `before-call` in the calling thread.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

RAW_BODY = "DdbvaultRawBody"
_pending = threading.local()


def _keep_raw_body(response_dict: dict, customized_response_dict: dict, **_) -> None:
    if response_dict.get("status_code") == 200:
        customized_response_dict[RAW_BODY] = response_dict["body"]
        response_dict["body"] = b"{}"


def _swap_body(params: dict, **_) -> None:
    body = getattr(_pending, "body", None)
    if body is not None:
        params["body"] = body


def keep_raw_responses(client, operation: str) -> None:
    service = client.meta.service_model.service_id.hyphenize()  # "dynamodb", "dynamodb-streams"
    client.meta.events.register(f"before-parse.{service}.{operation}", _keep_raw_body)


def send_raw_requests(client, operation: str) -> None:
    client.meta.events.register(f"before-call.dynamodb.{operation}", _swap_body)


@contextlib.contextmanager
def raw_request(body: bytes) -> Iterator[None]:
    _pending.body = body
    try:
        yield
    finally:
        _pending.body = None
