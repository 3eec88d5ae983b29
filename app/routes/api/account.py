"""Setting Vivant up, signing in and out, and the signed-in account."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from app.auth import any_user_exists, authenticate, change_password, create_user, end_session, start_session
from app.deps import SESSION_COOKIE, CurrentAuth, CurrentUser, Services, ServicesDep, SessionDep, SettingsDep
from app.models import User
from app.schemas import Credentials, LoginOut, PasswordChange, UserOut
from app.sessions_http import clear_session_cookie, set_session_cookie

router = APIRouter()


def _signed_in(request: Request, response: Response, services: Services, user_id: str) -> LoginOut:
    settings = services.settings
    with services.database.session() as session:
        # A new session id at every sign-in: a planted cookie never becomes a signed-in one.
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            end_session(session=session, token=old, secret=settings.session_secret)
        user = session.get(User, user_id)
        assert user is not None
        new = start_session(
            session=session, user=user, secret=settings.session_secret, days=settings.session_days
        )
        set_session_cookie(response, request, settings, new.token)
        return LoginOut(csrf_token=new.csrf_token, email=user.email, is_admin=user.is_admin)


@router.post("/setup", status_code=201, responses={409: {"description": "an account already exists"}})
def setup(body: Credentials, request: Request, response: Response, services: ServicesDep) -> LoginOut:
    """Create the first administrator. Refused once any account exists."""
    with services.database.session() as session:
        if any_user_exists(session):
            raise HTTPException(409, "Vivant is already set up; sign in instead")
        user = create_user(session=session, email=body.email, password=body.password, is_admin=True)
        user_id = user.id
    return _signed_in(request, response, services, user_id)


@router.post("/auth/login", responses={401: {}, 429: {}})
def login(body: Credentials, request: Request, response: Response, services: ServicesDep) -> LoginOut:
    address = request.client.host if request.client else "unknown"
    with services.database.session() as session:
        user = authenticate(session=session, email=body.email, password=body.password, address=address)
        user_id = user.id
    return _signed_in(request, response, services, user_id)


@router.post("/auth/logout", status_code=204)
def logout(
    request: Request, response: Response, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
    end_session(session=session, token=request.cookies[SESSION_COOKIE], secret=settings.session_secret)
    clear_session_cookie(response)


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, email=user.email, is_admin=user.is_admin)


@router.post("/me/password", status_code=204, responses={403: {"description": "wrong current password"}})
def change_my_password(body: PasswordChange, auth: CurrentAuth, session: SessionDep) -> None:
    """A new password for the signed-in account; its other sessions end, this one stays."""
    change_password(session=session, signed_in=auth, current=body.current_password, new=body.new_password)
