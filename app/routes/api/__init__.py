"""The JSON API, a router per resource. Errors are `{"detail": ...}` with a status a client can act on."""

from fastapi import APIRouter

from app.routes.api import account, albums, clips, films, photos, shares, users

router = APIRouter(prefix="/api")
for module in (account, users, photos, clips, shares, albums, films):
    router.include_router(module.router)
