"""The family's accounts, managed by an admin."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth import create_user, remove_user, set_password
from app.deps import AdminUser, SessionDep, user_or_404
from app.schemas import Credentials, NewPassword, UserOut

router = APIRouter()


class NewUser(Credentials):
    is_admin: bool = False


@router.post("/users", status_code=201)
def add_user(body: NewUser, admin: AdminUser, session: SessionDep) -> UserOut:
    user = create_user(session=session, email=body.email, password=body.password, is_admin=body.is_admin)
    return UserOut(id=user.id, email=user.email, is_admin=user.is_admin)


@router.post("/users/{user_id}/password", status_code=204)
def reset_password(user_id: str, body: NewPassword, admin: AdminUser, session: SessionDep) -> None:
    """Set a member's password (they forgot theirs); every session of theirs ends."""
    set_password(session=session, user=user_or_404(session, user_id), new=body.password)


@router.delete("/users/{user_id}", status_code=204, responses={409: {"description": "your own account"}})
def remove_member(user_id: str, admin: AdminUser, session: SessionDep) -> None:
    """Remove an account; the photos and links it added stay."""
    remove_user(session=session, user=user_or_404(session, user_id), by=admin)
