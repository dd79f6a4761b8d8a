"""The agent server: LangGraph's Agent Server HTTP API over threadloom's persistence.

``create_app(config)`` returns an ASGI app for your own deployment;
``threadloom serve`` runs it with uvicorn. Needs the ``server`` extra:
``pip install 'threadloom[server]'``.
"""

from __future__ import annotations

try:
    import orjson  # noqa: F401
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "threadloom.server needs the server extra: pip install 'threadloom[server]'"
    ) from exc

from threadloom.server._app import create_app
from threadloom.server._auth import Auth, AuthContext, User
from threadloom.server._config import ServerConfig, load_config
from threadloom.server._serve import serve

__all__ = ["Auth", "AuthContext", "ServerConfig", "User", "create_app", "load_config", "serve"]
