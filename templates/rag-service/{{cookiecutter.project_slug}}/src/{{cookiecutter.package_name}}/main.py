"""The app factory: the chassis plus this service's routes and its store/model lifespan."""

from __future__ import annotations

from fastapi import FastAPI

{% if cookiecutter.streaming == "y" -%}
from .api.routes import documents, query, stream
{%- else -%}
from .api.routes import documents, query
{%- endif %}
from .platform.app import create_platform_app
from .service import rag_lifespan
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_platform_app(
        settings,
{%- if cookiecutter.streaming == "y" %}
        routers=[documents.router, query.router, stream.router],
{%- else %}
        routers=[documents.router, query.router],
{%- endif %}
        lifespan=rag_lifespan(settings),
        description="{{ cookiecutter.description }}",
    )
