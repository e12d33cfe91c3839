"""Ingest, list and delete a tenant's documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...ingest import RawDocument, iter_location
from ...platform.context import RequestContextDep
from ..deps import ServiceDep
from ..models import TENANT, IngestRequest

router = APIRouter(prefix="/v1/documents", tags=["documents"])
TenantQuery = Annotated[str, Query(pattern=TENANT)]


@router.post("")
def ingest_documents(body: IngestRequest, service: ServiceDep, ctx: RequestContextDep) -> Any:
    """Add or replace documents; unchanged ones are skipped. Returns the ingestion report."""
    ctx.caller.require_tenant(body.tenant)
    settings = service.settings
    if body.s3_uri:
        found = iter_location(
            body.s3_uri, settings.max_document_bytes, settings.aws_region, settings.aws_endpoint_url
        )
    else:
        found = (RawDocument(d.source, d.data(), d.content_type) for d in body.documents)
    return service.ingest(body.tenant, found).as_dict()


@router.get("")
def list_documents(tenant: TenantQuery, service: ServiceDep, ctx: RequestContextDep) -> Any:
    ctx.caller.require_tenant(tenant)
    return {"tenant": tenant, "documents": service.list_documents(tenant)}


@router.delete("")
def delete_document(
    tenant: TenantQuery,
    source: Annotated[str, Query(min_length=1)],
    service: ServiceDep,
    ctx: RequestContextDep,
) -> Any:
    """Remove a document and all its chunks; cached answers of the tenant are dropped."""
    ctx.caller.require_tenant(tenant)
    service.delete_document(tenant, source)
    return {"tenant": tenant, "deleted": source}
