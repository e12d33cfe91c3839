"""Typed errors and their one mapping to RFC 9457 problem details (application/problem+json).

Routes and services raise these; nothing else builds error responses. A caller never sees a
stack trace: unexpected errors are logged with their trace id and answered with a plain 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from .redaction import REDACT

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class ServiceError(Exception):
    """Base of every error a route may answer with; subclasses set status and title."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}


class BadRequest(ServiceError):
    status, title = 400, "Bad request"


class Unauthorized(ServiceError):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status, title = 403, "Forbidden"


class NotFound(ServiceError):
    status, title = 404, "Not found"


class Conflict(ServiceError):
    status, title = 409, "Conflict"


class PayloadTooLarge(ServiceError):
    status, title = 413, "Payload too large"


class Unprocessable(ServiceError):
    status, title = 422, "Unprocessable content"


class RateLimited(ServiceError):
    status, title = 429, "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(ServiceError):
    status, title = 503, "Service unavailable"


class UpstreamError(ServiceError):
    status, title = 502, "Upstream model or service failed"


class Problem(BaseModel):
    """An RFC 9457 problem: the body of every error response (extensions allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str = ""


TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          409: "Conflict", 413: "Payload too large", 422: "Unprocessable content",
          429: "Too many requests", 500: "Internal error", 502: "Bad gateway",
          503: "Service unavailable"}  # fmt: skip
# What any authenticated route may answer: credentials, validation, rate limit, the body size
# limit (it applies before routing), a database outage, and an unexpected error.
AUTH_ERRORS = (401, 403, 413, 422, 429, 500, 503)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: each status as problem+json, so the document says
    what the route really answers (schemathesis-style conformance checks read it)."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {"description": TITLES.get(status, "Error"),
                 "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in sorted(set(statuses) | set(AUTH_ERRORS))
    }  # fmt: skip


def register_problem_schema(app: FastAPI) -> None:
    """Put `Problem` into the OpenAPI components that `problem_responses` refers to."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = original()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema()
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def problem(status: int, title: str, detail: str, request: Request, **ext: Any) -> JSONResponse:
    """An RFC 9457 body; every text in it passes the redactor (no secret leaves in an error)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": REDACT(detail)}
    body["instance"] = REDACT(request.url.path)
    body.update(ext)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _shown(value: Any) -> str:
    """The offending value as the caller sent it: short, and redacted."""
    text = repr(value)
    return REDACT(text if len(text) <= 80 else text[:77] + "...")


def _validation_detail(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    """Field, value and what is allowed, for each problem; malformed JSON is a 400."""
    errors: list[dict[str, Any]] = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", 0))[-1]
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            detail = f"the request body is not valid JSON: {reason} at character {position}"
            return 400, detail, [{"field": "body", "message": detail}]
        parts = error.get("loc", ())
        location = ".".join(str(part) for part in parts[1:] if parts and parts[0] == "body")
        if parts and parts[0] != "body":
            location = f"{parts[0]} {'.'.join(str(part) for part in parts[1:])}".strip()
        # Messages can quote the input (custom validators do): redact them like values.
        item: dict[str, Any] = {
            "field": location or "body",
            "message": REDACT(str(error.get("msg", ""))),
        }
        if error.get("type") not in ("missing", "extra_forbidden") and "input" in error:
            item["value"] = _shown(error["input"])
        errors.append(item)
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}"
    if "value" in first:
        detail += f" (got {first['value']})"
    if len(errors) > 1:
        detail += f"; and {len(errors) - 1} more problem(s) in `errors`"
    return 422, detail, errors


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to problem+json, once, for the whole app (and document its shape)."""
    register_problem_schema(app)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, request, **exc.extensions)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, errors = _validation_detail(exc)
        title = "Malformed JSON" if status == 400 else "Invalid request"
        return problem(status, title, detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == title:
            detail = f"no route for {request.method} {request.url.path}; see /docs"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        response = problem(exc.status_code, title, detail, request)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        detail = "the database is not reachable right now; retry shortly"
        response = problem(503, "Service unavailable", detail, request)
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
        return problem(500, "Internal error", "The service failed; see its logs.", request)
