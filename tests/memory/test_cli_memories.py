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
    head, *records = [json.loads(line) for line in out.splitlines()]
    assert head == {"format": "threadloom-memories", "version": 2}
    assert sorted(r["key"] for r in records) == ["a", "b"]
    assert "exported 2 memories" in err
    dump = tmp_path / "dump.jsonl"
    dump.write_text(out, encoding="utf-8")
    assert main(["memories", "import", "--db", str(target), str(dump)]) == 0
    assert "imported 2 memories" in capsys.readouterr().err
    with open_backends(str(target)) as backends:
        found = backends.store.search(("memories",), query="what is the user called", limit=1)
        assert found[0].value == {"data": "User name is Bob"}
    with open_backends(str(target)) as backends:
        stamps = [item.updated_at for item in backends.store.dump_items()]
    assert main(["memories", "reindex", "--db", str(target)]) == 0
    assert "re-embedded 2 memories" in capsys.readouterr().err
    with open_backends(str(target)) as backends:
        assert [item.updated_at for item in backends.store.dump_items()] == stamps


def test_a_round_trip_through_files_gives_the_same_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """export --vectors, import into a new file, export again: byte for byte the same file."""
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    _seed(source)
    with open_backends(str(source)) as backends:
        backends.store.put(("memories", "u1"), "brief", {"data": "User is in Rome"}, ttl=90)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert main(["memories", "export", "--db", str(source), "--vectors", "-o", str(first)]) == 0
    assert main(["memories", "import", "--db", str(target), str(first)]) == 0
    assert main(["memories", "export", "--db", str(target), "--vectors", "-o", str(second)]) == 0
    assert "exported 4 memories" in capsys.readouterr().err
    assert second.read_bytes() == first.read_bytes()
    records = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()[1:]]
    brief = next(r for r in records if r["key"] == "brief")
    assert brief["ttl_minutes"] == 90 and brief["expires_at"] is not None
    assert all(len(r["vectors"]) == 1 for r in records)


def test_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken export file is reported with its line number; a bad --namespace is a usage error."""
    db = tmp_path / "a.db"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"namespace": ["m"], "key": "k", "value": {}}\nnot json\n', encoding="utf-8")
    assert main(["memories", "import", "--db", str(db), str(bad)]) == 1
    assert "line 2" in capsys.readouterr().err
    newer = tmp_path / "newer.jsonl"
    newer.write_text('{"format": "threadloom-memories", "version": 9}\n', encoding="utf-8")
    assert main(["memories", "import", "--db", str(db), str(newer)]) == 1
    assert "newer threadloom" in capsys.readouterr().err
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
