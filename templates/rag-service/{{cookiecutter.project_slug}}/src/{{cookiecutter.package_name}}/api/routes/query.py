"""Questions answered from one tenant's documents, with citations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import QuestionDep, ServiceDep

router = APIRouter(prefix="/v1/query", tags=["query"])


@router.post("")
async def query(question: QuestionDep, service: ServiceDep) -> Any:
    return await service.aquery(question)
