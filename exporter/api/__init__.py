"""HTTP routes, one module per resource; `api_router` includes them all."""

from fastapi import APIRouter

from exporter.api import docs, formats, health, ingest, models, reports

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(models.router)
api_router.include_router(ingest.router)
api_router.include_router(reports.router)
api_router.include_router(formats.router)
api_router.include_router(docs.router)

__all__ = ["api_router"]
