"""Preview route: a release's predictor on up to 32 texts, answered at once."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...platform.context import RequestContextDep
from ...preview import Previewer, PreviewRequest, PreviewResponse

router = APIRouter(prefix="/v1", tags=["preview"])


@router.post("/predict", response_model=PreviewResponse)
def predict(body: PreviewRequest, ctx: RequestContextDep, request: Request) -> PreviewResponse:
    """Predict for a few texts with the caller's release; `fallback: true` under the kill
    switch."""
    previewer: Previewer = request.app.state.preview
    return previewer.predict(body, ctx.release, ctx.track, ctx.kill_switch)
