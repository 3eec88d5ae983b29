"""Share links: an unguessable token in the URL, only its keyed hash in the database."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import hash_password, hash_token, verify_password
from app.errors import ServiceError
from app.models import Clip, Share, utcnow
from app.schemas import ShareOut, ShareRequest

# 32 random bytes: 256 bits, far past guessing.
TOKEN_BYTES = 32


class ShareError(ServiceError):
    pass


def create_share(
    *, session: Session, clip: Clip, request: ShareRequest, secret: str, user_id: str
) -> tuple[Share, str]:
    if clip.status != "ready":
        raise ShareError(409, f"this clip is {clip.status}; only a finished clip can be shared")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = Share(
        clip_id=clip.id,
        token_hash=hash_token(token, secret),
        created_by=user_id,
        allow_download=request.allow_download,
        password_hash=hash_password(request.password) if request.password else None,
        expires_at=utcnow() + timedelta(days=request.expires_in_days) if request.expires_in_days else None,
    )
    session.add(share)
    session.flush()
    return share, token


def find_live_share(*, session: Session, token: str, secret: str) -> Share | None:
    """The share for this token if it exists, is not revoked, has not expired and its clip is ready."""
    if not 20 <= len(token) <= 100:
        return None
    share = session.scalar(select(Share).where(Share.token_hash == hash_token(token, secret)))
    if share is None or not share.is_live(utcnow()) or share.clip.status != "ready":
        return None
    return share


def password_ok(share: Share, password: str | None) -> bool:
    if share.password_hash is None:
        return True
    return password is not None and verify_password(share.password_hash, password)


def revoke_share(*, session: Session, share: Share) -> None:
    if share.revoked_at is None:
        share.revoked_at = utcnow()


def share_out(share: Share, url: str) -> ShareOut:
    return ShareOut(
        id=share.id,
        url=url,
        clip_id=share.clip_id,
        allow_download=share.allow_download,
        expires_at=share.expires_at,
        has_password=share.password_hash is not None,
    )
