"""``threadloom inspect PATH_OR_DSN``: the inspector on a database, read-only unless --write."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _world import ASK_THREAD, World
from starlette.testclient import TestClient

from threadloom.cli import build_parser, main
from threadloom.cli._inspect import open_inspector


def _args(*argv: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(["inspect", *argv])


def test_read_only_by_default(seeded: World) -> None:
    with open_inspector(_args(str(seeded.path))) as app, TestClient(app) as client:
        page = client.get("/memories/item?ns=memories.bob&key=name").text
        assert "User name is Bob" in page and "read-only" in page and "delete-item" not in page
        token = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert token is not None
        r = client.post(
            "/memories/item/delete",
            data={"csrf": token.group(1), "ns": "memories.bob", "key": "name", "confirmed": "yes"},
        )
        assert r.status_code == 403
    assert seeded.backends.store.get(("memories", "bob"), "name") is not None


def test_write_and_config_allow_resume(seeded: World, tmp_path: Path) -> None:
    graphs = tmp_path / "graphs.py"
    graphs.write_text(
        "import sys\n"
        f"sys.path.append({str(Path(__file__).parent)!r})\n"
        "from _world import build_graphs\n"
        "asker = build_graphs(None, None)['asker']\n"
    )
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"asker": "./graphs.py:asker"}}))
    args = _args(str(seeded.path), "--write", "--config", str(config))
    with open_inspector(args) as app, TestClient(app) as client:
        page = client.get(f"/threads/{ASK_THREAD}").text
        assert 'id="resume"' in page
        token = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert token is not None
        client.post(f"/threads/{ASK_THREAD}/resume", data={"csrf": token.group(1), "value": "2"})
        assert "asker" in client.get("/graphs").text
    state = seeded.backends.graphs["asker"].get_state({"configurable": {"thread_id": ASK_THREAD}})
    assert state.values == {"n": 3}


def test_a_missing_database_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(tmp_path / "nope.db")]) == 2
    assert "no database at" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "nope.db"), "--config", str(tmp_path / "x.json")]) == 2


def _content(path: Path) -> list[str]:
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


def test_browsing_read_only_changes_nothing_in_the_file(tmp_path: Path) -> None:
    from _world import CHAT_THREAD, world

    path = tmp_path / "app.db"
    with world(path):
        pass
    before = _content(path)
    with open_inspector(_args(str(path))) as app, TestClient(app) as client:
        for page in [
            "/threads",
            f"/threads/{CHAT_THREAD}",
            "/memories?ns=memories.bob",
            "/memories/item?ns=memories.bob&key=name",
            '/memories/search?ns=memories&filter={"kind": "fact"}',
        ]:
            assert client.get(page).status_code == 200
    assert _content(path) == before


def test_an_empty_file_is_refused_read_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    assert main(["inspect", str(path)]) == 2
    assert "is empty: nothing to inspect" in capsys.readouterr().err
    assert path.stat().st_size == 0
