"""Ingest, list and delete a tenant's documents; its retrieval log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...access import authorize
from ...ingest import RawDocument, iter_location, require_s3_prefix
from ...platform.context import RequestContextDep
from ...platform.errors import problem_responses
from ...progress import ProgressLog
from ..deps import STRICT_INPUT, ServiceDep
from ..models import TENANT, DeletedOut, DocumentsOut, IngestOut, IngestRequest, RetrievalsOut

router = APIRouter(prefix="/v1", tags=["documents"], dependencies=STRICT_INPUT)
TenantQuery = Annotated[
    str | None, Query(pattern=TENANT, description="Default: the credential's only tenant.")
]


@router.post("/documents", response_model=IngestOut, responses=problem_responses(400, 502))
def ingest_documents(body: IngestRequest, service: ServiceDep, ctx: RequestContextDep) -> Any:
    """Add or replace documents; unchanged ones are skipped. Returns the ingestion report."""
    tenant = authorize(ctx.caller, body.tenant, "writer")
    settings = service.settings
    if body.s3_uri:
        require_s3_prefix(body.s3_uri, tenant, settings.s3_allowed_prefixes)
        found = iter_location(
            body.s3_uri, settings.max_document_bytes, settings.aws_region, settings.aws_endpoint_url
        )
        total = None  # a prefix is listed as it is read
    else:
        found = (RawDocument(d.source, d.data(), d.content_type) for d in body.documents)
        total = len(body.documents)
    progress = ProgressLog(total, settings.progress_log_seconds, {"tenant": tenant})
    report = service.ingestion.ingest(tenant, found, progress=progress)
    return {"tenant": tenant, **report.as_dict()}


@router.get("/documents", response_model=DocumentsOut, responses=problem_responses(400))
def list_documents(service: ServiceDep, ctx: RequestContextDep, tenant: TenantQuery = None) -> Any:
    tenant = authorize(ctx.caller, tenant, "reader")
    return {"tenant": tenant, "documents": service.ingestion.list_documents(tenant)}


@router.delete("/documents", response_model=DeletedOut, responses=problem_responses(400, 404))
def delete_document(
    source: Annotated[str, Query(min_length=1)],
    service: ServiceDep,
    ctx: RequestContextDep,
    tenant: TenantQuery = None,
) -> Any:
    """Remove a document and all its chunks; cached answers of the tenant are dropped."""
    tenant = authorize(ctx.caller, tenant, "writer")
    service.ingestion.delete_document(tenant, source)
    return {"tenant": tenant, "deleted": source}


@router.get("/retrievals", response_model=RetrievalsOut, responses=problem_responses(400))
def list_retrievals(
    service: ServiceDep,
    ctx: RequestContextDep,
    tenant: TenantQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The tenant's retrieval log, newest first: who read which documents, when."""
    tenant = authorize(ctx.caller, tenant, "admin")
    return {"tenant": tenant, "retrievals": service.store.list_retrievals(tenant, limit)}
