"""Reading a JSON request body at the edge: 415, 413 and 422 before anything is forwarded.

The checks run in the order of their cost: the Content-Type (415, nothing read), the
declared Content-Length (413, nothing read), then the body is read chunk by chunk and
refused as soon as it passes the limit (413, the rest is never read: a chunked or lying
client cannot make the gateway buffer more than `max_bytes`), then parsed and validated
against the route's schema (422 with the same `errors` list as every service). All are
problem+json. Used by api.pipeline and api.admin.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from shopmesh_common.problems import Problem

Model = TypeVar("Model", bound=BaseModel)


def is_json(content_type: str | None) -> bool:
    """True for application/json and application/*+json, with or without parameters."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, f"the body is larger than {max_bytes} bytes", type_="payload-too-large")


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The body, at most `max_bytes`; 415 unless it is JSON, 413 when larger."""
    if not is_json(request.headers.get("content-type")):
        raise Problem(415, "the body must be application/json", type_="unsupported-media-type")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(400, "Content-Length is not a number", type_="bad-request")
        if int(declared) > max_bytes:
            raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(body)


def parse(model: type[Model], body: bytes) -> Model:
    """`body` validated against `model`; a 422 problem listing what is wrong otherwise."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        items = [
            {
                "field": ".".join(str(part) for part in err.get("loc", ())) or "(body)",
                "message": err.get("msg", "invalid"),
            }
            for err in error.errors(include_url=False, include_input=False)
        ]
        detail = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
        raise Problem(
            422, detail or "the body is invalid", type_="validation-error", errors=items
        ) from None


async def read_json(request: Request, model: type[Model], *, max_bytes: int) -> Model:
    """`read_body` then `parse`."""
    return parse(model, await read_body(request, max_bytes=max_bytes))
