"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import RagService


def get_service(request: Request) -> RagService:
    service: RagService = request.app.state.rag
    return service


ServiceDep = Annotated[RagService, Depends(get_service)]
