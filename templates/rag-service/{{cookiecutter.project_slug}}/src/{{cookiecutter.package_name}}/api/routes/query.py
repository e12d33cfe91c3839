"""Questions answered from one tenant's documents, with citations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import STRICT_INPUT, QuestionDep, ServiceDep

router = APIRouter(prefix="/v1/query", tags=["query"], dependencies=STRICT_INPUT)


@router.post("")
async def query(question: QuestionDep, service: ServiceDep) -> Any:
    return await service.aquery(question)
