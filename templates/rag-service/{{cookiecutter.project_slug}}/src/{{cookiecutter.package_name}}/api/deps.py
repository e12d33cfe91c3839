"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..platform.context import RequestContextDep
from ..service import Question, RagService
from .models import QueryRequest


# Both are async (they do no blocking work) so FastAPI runs them on the event loop instead of
# hopping to a worker thread for each.
async def get_service(request: Request) -> RagService:
    service: RagService = request.app.state.rag
    return service


async def get_question(body: QueryRequest, ctx: RequestContextDep) -> Question:
    """The request body plus who asks, under which release, and the kill switch: built in
    one place for /v1/query and its stream, so both answer the same question the same way."""
    return Question(
        body.tenant, body.question, ctx.release, body.top_k, body.filters, ctx.caller,
        ctx.fallback,
    )  # fmt: skip


ServiceDep = Annotated[RagService, Depends(get_service)]
QuestionDep = Annotated[Question, Depends(get_question)]
