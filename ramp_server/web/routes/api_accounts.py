"""The JSON API of one's account, under ``/api``: who the token belongs to, and API tokens
(listed, created with the secret shown once, revoked)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ramp_server.services import accounts
from ramp_server.web.deps import Csrf, CurrentUser, Db

router = APIRouter(prefix="/api", tags=["accounts"])


class UserOut(BaseModel):
    id: int
    name: str
    email: str
    is_admin: bool


class TokenIn(BaseModel):
    name: str = Field("", max_length=100)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    token: str | None = Field(None, description="the secret, returned once at creation")


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, name=user.name, email=user.email, is_admin=user.is_admin)


def _token_out(token, raw: str | None = None) -> TokenOut:  # noqa: ANN001
    return TokenOut(
        id=token.id,
        name=token.name,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        token=raw,
    )


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(db: Db, user: CurrentUser) -> list[TokenOut]:
    return [_token_out(t) for t in accounts.list_api_tokens(db, user=user)]


@router.post("/tokens", response_model=TokenOut, status_code=201, dependencies=[Csrf])
def create_token(db: Db, user: CurrentUser, body: TokenIn) -> TokenOut:
    token, raw = accounts.create_api_token(db, user=user, name=body.name)
    db.commit()
    return _token_out(token, raw)


@router.delete("/tokens/{token_id}", status_code=204, dependencies=[Csrf])
def revoke_token(db: Db, user: CurrentUser, token_id: int) -> Response:
    accounts.revoke_api_token(db, user=user, token_id=token_id)  # NotFound: 404
    db.commit()
    return Response(status_code=204)
