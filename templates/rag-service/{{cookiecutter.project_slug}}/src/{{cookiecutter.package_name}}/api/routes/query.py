"""Questions answered from one tenant's documents, with citations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...platform.errors import problem_responses
from ..deps import STRICT_INPUT, QuestionDep, ServiceDep
from ..models import AnswerOut

router = APIRouter(prefix="/v1/query", tags=["query"], dependencies=STRICT_INPUT)


@router.post("", response_model=AnswerOut, responses=problem_responses(400, 404, 502))
async def query(question: QuestionDep, service: ServiceDep) -> Any:
    return await service.answering.aquery(question)
