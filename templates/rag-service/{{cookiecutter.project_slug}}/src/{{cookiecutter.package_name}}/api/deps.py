"""Typed dependencies for the routes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from ..access import authorize
from ..answering import Question
from ..platform.context import RequestContextDep
from ..platform.errors import BadRequest
from ..service import RagService
from .models import QueryRequest


# Both are async (they do no blocking work) so FastAPI runs them on the event loop instead of
# hopping to a worker thread for each.
async def get_service(request: Request) -> RagService:
    service: RagService = request.app.state.rag
    return service


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


async def refuse_ambiguous_input(request: Request) -> None:
    """A repeated query parameter or a JSON key given twice in one object is refused (400):
    parsers disagree on which copy wins (the first, the last, both), and an attacker who
    names a tenant twice hopes that the check and the use read different copies."""
    params = request.query_params
    for name in dict.fromkeys(params.keys()):
        values = params.getlist(name)
        if len(values) > 1:
            raise BadRequest(
                f"query parameter {name!r} is given {len(values)} times: give it once",
                field=name,
            )
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()  # already read by FastAPI for the body model: cached
    try:
        json.loads(body or b"null", object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise BadRequest(
            f"JSON key {exc.key!r} appears twice in one object: give each key once",
            field=exc.key,
        ) from None
    except ValueError:
        return  # malformed JSON: the body model's own 400 names the position


async def get_question(body: QueryRequest, ctx: RequestContextDep, request: Request) -> Question:
    """The request body plus who asks (the tenant authorized against the credential), under
    which release, and the kill switch: built in one place for /v1/query and its stream."""
    tenant = authorize(ctx.caller, body.tenant, "reader")
    route = "stream" if request.url.path.endswith("/stream") else "query"
    return Question(
        tenant, body.question, ctx.release, body.top_k, body.filters, ctx.caller, ctx.fallback,
        route,
    )  # fmt: skip


ServiceDep = Annotated[RagService, Depends(get_service)]
QuestionDep = Annotated[Question, Depends(get_question)]
STRICT_INPUT = [Depends(refuse_ambiguous_input)]
