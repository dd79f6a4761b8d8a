"""Authentication and authorization: an ``Auth`` object with LangGraph's decorator shape.

``@auth.authenticate`` turns a request into a user; ``@auth.on`` handlers
(``auth.on.threads.create``, ``auth.on.store``, ``auth.on(resources=..., actions=...)``)
accept a request (``None``/``True``), refuse it (``False``: 403) or return a
metadata filter that every read and write of that resource must match. The
server also accepts a ``langgraph_sdk.Auth`` object, which has the same shape.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from threadloom.server._http import HTTPError

__all__ = ["Auth", "AuthContext", "User", "api_key_auth", "authenticate", "authorize", "matches"]

Handler = Callable[..., Any]


@dataclass
class User:
    """The authenticated user: ``identity`` owns their threads, runs and namespaces."""

    identity: str
    display_name: str = ""
    permissions: list[str] = field(default_factory=list)
    is_authenticated: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        if key in ("identity", "display_name", "permissions", "is_authenticated"):
            return getattr(self, key)
        return self.extra[key]


@dataclass
class AuthContext:
    """What an ``@auth.on`` handler is told: who asks, for which resource and action."""

    user: User
    resource: str
    action: str
    permissions: list[str] = field(default_factory=list)


class _ResourceOn:
    def __init__(self, auth: Auth, resource: str) -> None:
        self._auth = auth
        self._resource = resource

    def __call__(self, fn: Handler) -> Handler:
        return self._auth._register(self._resource, "*", fn)

    def __getattr__(self, action: str) -> Callable[[Handler], Handler]:
        if action.startswith("_"):
            raise AttributeError(action)
        return lambda fn: self._auth._register(self._resource, action, fn)


class _On:
    def __init__(self, auth: Auth) -> None:
        self._auth = auth

    def __call__(
        self,
        fn: Handler | None = None,
        *,
        resources: str | list[str] | None = None,
        actions: str | list[str] | None = None,
    ) -> Any:
        if fn is not None:
            return self._auth._register("*", "*", fn)

        def register(handler: Handler) -> Handler:
            for r in [resources] if isinstance(resources, str) else resources or ["*"]:
                for a in [actions] if isinstance(actions, str) else actions or ["*"]:
                    self._auth._register(r, a, handler)
            return handler

        return register

    def __getattr__(self, resource: str) -> _ResourceOn:
        if resource.startswith("_"):
            raise AttributeError(resource)
        return _ResourceOn(self._auth, resource)


class Auth:
    """Pluggable auth for ``threadloom serve``.

    Example::

        auth = Auth()

        @auth.authenticate
        async def who(authorization: str | None) -> str:
            if authorization != "Bearer secret":
                raise PermissionError("bad token")
            return "alice"

        @auth.on.threads.create
        async def stamp(ctx, value):
            value.setdefault("metadata", {})["owner"] = ctx.user.identity
    """

    def __init__(self) -> None:
        self._authenticate_handler: Handler | None = None
        self._handlers: dict[tuple[str, str], list[Handler]] = {}
        self._global_handlers: list[Handler] = []
        self.on = _On(self)

    def authenticate(self, fn: Handler) -> Handler:
        """Register the function that turns a request into a user (identity string or dict)."""
        self._authenticate_handler = fn
        return fn

    def _register(self, resource: str, action: str, fn: Handler) -> Handler:
        if resource == "*" and action == "*":
            self._global_handlers[:] = [fn]
        else:
            self._handlers[(resource, action)] = [fn]
        return fn


async def _call(fn: Handler, **available: Any) -> Any:
    """Call ``fn`` with the arguments it names among ``available``."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs = available
    else:
        kwargs = {k: v for k, v in available.items() if k in params}
    result = fn(**kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _as_user(result: Any) -> User:
    if isinstance(result, User):
        return result
    if isinstance(result, str) and result:
        return User(identity=result)
    if isinstance(result, Mapping) and result.get("identity"):
        extra = {k: v for k, v in result.items() if k not in User.__dataclass_fields__}
        return User(
            identity=str(result["identity"]),
            display_name=str(result.get("display_name") or result["identity"]),
            permissions=list(result.get("permissions") or []),
            is_authenticated=bool(result.get("is_authenticated", True)),
            extra=extra,
        )
    identity = getattr(result, "identity", None)
    if isinstance(identity, str) and identity:
        return User(identity=identity, permissions=list(getattr(result, "permissions", []) or []))
    raise HTTPError(401, "authentication returned no identity")


async def authenticate(auth: Any, request: Any) -> User:
    """The user making ``request``; 401 when the credentials are missing or wrong."""
    handler = getattr(auth, "_authenticate_handler", None)
    if handler is None:
        raise HTTPError(401, "no authentication handler is configured")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        result = await _call(
            handler,
            request=request,
            authorization=headers.get("authorization"),
            headers=headers,
            path=request.url.path,
            method=request.method,
            query_params=dict(request.query_params),
            path_params=dict(request.path_params),
        )
    except HTTPError:
        raise
    except Exception as exc:
        status = getattr(exc, "status_code", 401)
        status = status if isinstance(status, int) and 400 <= status < 500 else 401
        raise HTTPError(status, str(getattr(exc, "detail", "") or "invalid credentials")) from None
    return _as_user(result)


async def authorize(
    auth: Any, user: User, resource: str, action: str, value: dict[str, Any]
) -> dict[str, Any] | None:
    """Run the handler for ``(resource, action)``: the filter it returns, or 403 on ``False``.

    ``value`` may be changed in place by the handler (e.g. a stamped owner, a scoped namespace).
    """
    handlers: dict[tuple[str, str], list[Handler]] = getattr(auth, "_handlers", {})
    chain = (
        handlers.get((resource, action))
        or handlers.get((resource, "*"))
        or handlers.get(("*", action))
        or getattr(auth, "_global_handlers", [])
    )
    if not chain:
        return None
    ctx = AuthContext(user=user, resource=resource, action=action, permissions=user.permissions)
    try:
        result = await _call(chain[0], ctx=ctx, value=value)
    except HTTPError:
        raise
    except Exception as exc:
        status = getattr(exc, "status_code", 403)
        status = status if isinstance(status, int) and 400 <= status < 500 else 403
        raise HTTPError(status, str(getattr(exc, "detail", "") or "forbidden")) from None
    if result is False:
        raise HTTPError(403, f"not allowed to {action} {resource}")
    if result is None or result is True:
        return None
    if not isinstance(result, dict):
        raise HTTPError(403, f"the {resource}.{action} handler returned no filter")
    return result


def matches(metadata: Mapping[str, Any], filters: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` satisfies an auth filter (``$eq``, ``$ne``, ``$in``, ``$contains``)."""
    for key, cond in (filters or {}).items():
        actual = metadata.get(key)
        ops = (
            cond
            if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond)
            else {"$eq": cond}
        )
        for op, expected in ops.items():
            if op == "$eq" and actual != expected:
                return False
            if op == "$ne" and actual == expected:
                return False
            if op == "$in" and actual not in list(expected):
                return False
            if op == "$contains":
                wanted = expected if isinstance(expected, list) else [expected]
                if not isinstance(actual, list) or any(w not in actual for w in wanted):
                    return False
            if op not in ("$eq", "$ne", "$in", "$contains"):
                return False  # an unknown operator never grants access
    return True


SYSTEM_OWNER = "system"
"""Owner stamped on the one assistant per graph: every user may read it, none may change it."""


def api_key_auth(api_keys: Mapping[str, str]) -> Auth:
    """The default policy: API keys name users; each user sees only what they own.

    A key is sent as ``Authorization: Bearer KEY`` or ``x-api-key: KEY``. Threads,
    runs and assistants are stamped with ``metadata["owner"]``; store namespaces are
    forced under the user's identity.
    """
    keys = dict(api_keys)
    auth = Auth()

    @auth.authenticate
    async def _by_key(headers: dict[str, str]) -> str:
        token = headers.get("x-api-key")
        scheme, _, bearer = (headers.get("authorization") or "").partition(" ")
        if token is None and scheme.lower() == "bearer":
            token = bearer.strip()
        identity = keys.get(token or "")
        if identity is None:
            raise HTTPError(401, "missing or invalid API key")
        return identity

    @auth.on
    async def _own(ctx: AuthContext, value: dict[str, Any]) -> dict[str, Any] | None:
        identity = ctx.user.identity
        if ctx.resource == "store":
            namespace = tuple(value.get("namespace") or ())
            value["namespace"] = (identity, *namespace)
            return None
        if ctx.action in ("create", "update", "create_run"):
            metadata = value.get("metadata")
            if not isinstance(metadata, dict):
                metadata = value["metadata"] = {}
            metadata["owner"] = identity
        if ctx.resource == "assistants" and ctx.action in ("read", "search"):
            return {"owner": {"$in": [identity, SYSTEM_OWNER]}}
        return {"owner": identity}

    return auth
