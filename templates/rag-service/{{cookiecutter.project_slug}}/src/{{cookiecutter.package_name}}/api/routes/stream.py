"""The same answers as /v1/query, as server-sent events: tokens, then citations."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ...platform.errors import problem_responses
from ..deps import STRICT_INPUT, QuestionDep, ServiceDep

router = APIRouter(prefix="/v1/query", tags=["query"], dependencies=STRICT_INPUT)
EVENTS = {
    "description": "Server-sent events: `token` ({text}), `citations` ({citations}), then"
    " `done` (the /v1/query body without citations).",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.post(
    "/stream",
    response_class=StreamingResponse,
    responses={200: EVENTS, **problem_responses(400, 404, 502)},
)
async def query_stream(question: QuestionDep, service: ServiceDep) -> StreamingResponse:
    return StreamingResponse(
        await service.answering.astream(question), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )  # fmt: skip
