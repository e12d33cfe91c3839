"""The same answers as /v1/query, as server-sent events: tokens, then citations."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ..deps import STRICT_INPUT, QuestionDep, ServiceDep

router = APIRouter(prefix="/v1/query", tags=["query"], dependencies=STRICT_INPUT)


@router.post("/stream")
def query_stream(question: QuestionDep, service: ServiceDep) -> StreamingResponse:
    return StreamingResponse(
        service.stream(question), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )  # fmt: skip
