"""Accounts, server-side sessions, CSRF tokens and login throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.errors import ServiceError
from app.login_throttle import check_throttle, clear_failures, record_failure
from app.models import AuthSession, User, utcnow

# argon2-cffi's defaults are Argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()
# Verified against when the account does not exist, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("vivant-no-such-account")

MIN_PASSWORD_LENGTH = 8
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


class AuthError(ServiceError):
    pass


def hash_token(token: str, secret: str) -> str:
    """Keyed hash of a bearer token: a stolen database alone cannot confirm a guessed token."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(422, f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def validate_new_account(email: str, password: str) -> None:
    if "@" not in email or len(email) > 320 or email.startswith("@") or email.endswith("@"):
        raise AuthError(422, f"{email!r} is not an e-mail address")
    validate_password(password)


def create_user(*, session: Session, email: str, password: str, is_admin: bool = False) -> User:
    email = normalise_email(email)
    validate_new_account(email, password)
    if user_by_email(session, email) is not None:
        raise AuthError(409, f"an account for {email} already exists")
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def change_password(*, session: Session, signed_in: AuthSession, current: str, new: str) -> None:
    """Set a new password once the current one is proven, and end every session of the account but
    this one (whoever learnt the old password keeps no session). Wrong guesses count as failed sign-ins."""
    user = signed_in.user
    keys = [f"account:{user.email}"]
    check_throttle(session, keys, limits=[MAX_FAILURES_PER_ACCOUNT])
    if not verify_password(user.password_hash, current):
        record_failure(session, keys)
        raise AuthError(403, "the current password is wrong")
    set_password(session=session, user=user, new=new, keep=signed_in)


def set_password(*, session: Session, user: User, new: str, keep: AuthSession | None = None) -> None:
    """A new password for `user`, and every session of the account ended but `keep`: an admin setting a
    forgotten password signs the account out everywhere."""
    validate_password(new)
    user.password_hash = hash_password(new)
    ended = AuthSession.user_id == user.id
    if keep is not None:
        ended &= AuthSession.token_hash != keep.token_hash
    session.execute(delete(AuthSession).where(ended))


def remove_user(*, session: Session, user: User, by: User) -> None:
    """Remove an account: its sessions end with it; the photos and links it added stay in the library."""
    if user.id == by.id:
        raise AuthError(409, "you cannot remove your own account; another admin can")
    # A Core delete, so the database applies the foreign keys: sessions cascade, photos' owner is cleared.
    session.execute(delete(User).where(User.id == user.id))


def any_user_exists(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) != 0


def authenticate(*, session: Session, email: str, password: str, address: str) -> User:
    """The user for these credentials; AuthError 401 or Throttled 429 otherwise. Failures are recorded."""
    email = normalise_email(email)
    keys = [f"account:{email}", f"address:{address}"]
    check_throttle(session, keys, limits=[MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS])
    user = user_by_email(session, email)
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok:
        record_failure(session, keys)
        raise AuthError(401, "wrong e-mail or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    clear_failures(session, keys[0])
    return user


@dataclass(frozen=True)
class NewSession:
    token: str  # goes into the cookie; never stored
    csrf_token: str
    expires_at: datetime


def start_session(*, session: Session, user: User, secret: str, days: int) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=days)
    session.add(
        AuthSession(
            token_hash=hash_token(token, secret),
            user_id=user.id,
            csrf_token=csrf_token,
            expires_at=expires_at,
        )
    )
    return NewSession(token=token, csrf_token=csrf_token, expires_at=expires_at)


def find_session(*, session: Session, token: str, secret: str) -> AuthSession | None:
    found = session.get(AuthSession, hash_token(token, secret))
    if found is None or found.expires_at <= utcnow():
        return None
    return found


def end_session(*, session: Session, token: str, secret: str) -> None:
    session.execute(delete(AuthSession).where(AuthSession.token_hash == hash_token(token, secret)))


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
