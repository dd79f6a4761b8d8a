"""``threadloom memories export | import | reindex`` on a real SQLite file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from threadloom.cli import main
from threadloom.cli._app import open_backends
from threadloom.cli._memories import counting


def _seed(db: Path) -> None:
    with open_backends(str(db)) as backends:
        backends.store.put(("memories", "u1"), "a", {"data": "User name is Bob"})
        backends.store.put(("memories", "u2"), "b", {"data": "User likes tea"})
        backends.store.put(("other",), "c", {"data": "x"})


def test_export_import_and_reindex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An export of one namespace imports into another file; reindex re-embeds; progress on stderr."""
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    _seed(source)
    assert main(["memories", "export", "--db", str(source), "--namespace", "memories"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["key"] for r in records) == ["a", "b"]
    assert "exported 2 memories" in err
    dump = tmp_path / "dump.jsonl"
    dump.write_text(out, encoding="utf-8")
    assert main(["memories", "import", "--db", str(target), str(dump)]) == 0
    assert "imported 2 memories" in capsys.readouterr().err
    with open_backends(str(target)) as backends:
        found = backends.store.search(("memories",), query="what is the user called", limit=1)
        assert found[0].value == {"data": "User name is Bob"}
    assert main(["memories", "reindex", "--db", str(target)]) == 0
    assert "re-embedded 2 memories" in capsys.readouterr().err


def test_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken export file is reported with its line number; a bad --namespace is a usage error."""
    db = tmp_path / "a.db"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"namespace": ["m"], "key": "k", "value": {}}\nnot json\n', encoding="utf-8")
    assert main(["memories", "import", "--db", str(db), str(bad)]) == 1
    assert "line 2" in capsys.readouterr().err
    with open_backends(str(db)) as backends:
        assert backends.store.list_namespaces() == []
    assert main(["memories", "export", "--db", str(db), "--namespace", "a//b"]) == 2
    assert main(["memories", "import", "--db", str(db), str(tmp_path / "missing")]) == 1


def test_progress_is_fed_running_totals() -> None:
    """The memory functions report running totals; the bar advances by the difference."""
    stream = io.StringIO()
    with counting("exporting", "exported", stream=stream, enabled=True) as report:
        report(500)
        report(1000)
    shown = stream.getvalue()
    assert "exporting" in shown
    assert "1000" in shown
    assert "1500" not in shown
    assert shown.endswith("exported 1000 memories\n")
