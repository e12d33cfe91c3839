"""Questions answered from one tenant's documents, with citations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...platform.context import PlatformDep, RequestContextDep
from ..deps import ServiceDep
from ..models import QueryRequest

router = APIRouter(prefix="/v1/query", tags=["query"])


@router.post("")
def query(
    body: QueryRequest, service: ServiceDep, ctx: RequestContextDep, platform: PlatformDep
) -> Any:
    return service.query(
        body.tenant,
        body.question,
        ctx.release,
        body.top_k,
        body.filters,
        ctx.caller,
        platform.releases.safe_fallback if ctx.kill_switch else None,
    )
