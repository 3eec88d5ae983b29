"""Setting and clearing the session cookie."""

from __future__ import annotations

from fastapi import Request, Response

from app.config import Settings
from app.deps import SESSION_COOKIE


def cookie_secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure == "auto":
        proto = request.headers.get("x-forwarded-proto", request.url.scheme)
        return proto == "https" or settings.public_url.startswith("https://")
    return settings.cookie_secure == "always"


def set_session_cookie(response: Response, request: Request, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
