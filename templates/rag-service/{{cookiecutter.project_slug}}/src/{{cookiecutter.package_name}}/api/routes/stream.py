"""The same answers as /v1/query, as server-sent events: tokens, then citations."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ...platform.context import PlatformDep, RequestContextDep
from ..deps import ServiceDep
from ..models import QueryRequest

router = APIRouter(prefix="/v1/query", tags=["query"])


@router.post("/stream")
def query_stream(
    body: QueryRequest, service: ServiceDep, ctx: RequestContextDep, platform: PlatformDep
) -> StreamingResponse:
    events = service.stream(
        body.tenant,
        body.question,
        ctx.release,
        body.top_k,
        body.filters,
        ctx.caller,
        platform.releases.safe_fallback if ctx.kill_switch else None,
    )
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
