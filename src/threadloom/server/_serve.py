"""Running the app with uvicorn: what ``threadloom serve`` does."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from threadloom.server._app import create_app
from threadloom.server._config import ServerConfig
from threadloom.server._transport import http_protocol

__all__ = ["is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    config: ServerConfig | str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 2024,
    database: str | None = None,
    postgres: str | None = None,
    workers: int = 8,
    log_level: str = "info",
    **uvicorn_options: Any,
) -> None:
    """Serve ``config`` until interrupted. Auth is required unless ``host`` is loopback."""
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError(
            "threadloom serve needs the server extra: pip install 'threadloom[server]'"
        ) from exc
    app = create_app(
        config,
        database=database,
        postgres=postgres,
        workers=workers,
        require_auth=not is_loopback(host),
    )
    # Unless told otherwise: uvicorn's own protocol, writing each response in one piece.
    uvicorn_options.setdefault("http", http_protocol())
    uvicorn.run(app, host=host, port=port, log_level=log_level, **uvicorn_options)
