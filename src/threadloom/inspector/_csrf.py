"""CSRF protection: a random token in a SameSite cookie that every form posts back."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = ["COOKIE", "check", "token"]

COOKIE = "threadloom_csrf"


def token(request: Request) -> str:
    """This browser's token: the cookie's, or a new one the response must set."""
    existing = request.cookies.get(COOKIE, "")
    if len(existing) == 43:
        return existing
    new: str = request.scope.setdefault("threadloom.csrf", secrets.token_urlsafe(32))
    return new


def check(request: Request, posted: str | None) -> bool:
    """Whether a POST came from one of our own pages.

    The posted token must equal the cookie (a page on another site can neither
    read nor set it), and a browser's ``Origin``, when sent, must be this host.
    """
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not posted or not hmac.compare_digest(cookie, posted):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc == request.headers.get("host", "")
    return True
