"""LangGraph how-to style programs print the same on threadloom as on LangGraph.

Each program in ``howtos/`` is a plain LangGraph program (it imports ``langgraph``
and a scripted chat model, never threadloom). It runs twice in a subprocess: once
as written, against the real LangGraph installed as a test dependency, and once with
``langgraph`` replaced by ``threadloom`` in its import statements, as a user migrating
would do (strings such as the ``"langgraph_node"`` metadata key keep their names).
The LangGraph run is the reference: the two outputs must be equal after
:func:`normalise`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HOWTOS = Path(__file__).resolve().parent / "howtos"
SRC = Path(__file__).resolve().parents[2] / "src"
PROGRAMS = sorted(p.stem for p in HOWTOS.glob("*.py") if p.stem != "scripted_chat")

# What may differ between two runs of the same program, even on the same library:
# uuids (checkpoint, task, run and tool-message ids), interrupt ids (32 hex digits, a
# hash of the task's namespace, which holds a task id) and timestamps. Each distinct id
# becomes <id1>, <id2>, ... in order of first appearance, so that two places printing
# the same id still have to agree; timestamps become <ts>.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b")
IMPORT = re.compile(r"^(\s*(?:from|import)\s+)langgraph\b", re.MULTILINE)
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?")

# Programs whose output still differs, with the difference named (kept in docs/differences.md).
DIFFERENT: dict[str, str] = {
    "search_scores": (
        "the stores keep vectors as float32, so a similarity score agrees with LangGraph's"
        " float64 one to about 7 digits only, and two items whose scores differ by less"
        " than that may come in the other order"
    ),
}


def normalise(text: str) -> str:
    """Replace what legitimately differs between runs (see UUID and TIMESTAMP above)."""
    seen: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"<id{len(seen) + 1}>")

    return TIMESTAMP.sub("<ts>", UUID.sub(number, text))


def migrate(source: str) -> str:
    """The program as a user migrates it: ``langgraph`` becomes ``threadloom`` in its imports."""
    return IMPORT.sub(r"\1threadloom", source)


def run(source: str) -> str:
    """Run a program's source in a fresh interpreter; return what it printed."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(HOWTOS)]),
        "PYTHONHASHSEED": "0",
    }
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-"],
        input=source,
        capture_output=True,
        text=True,
        env=env,
        cwd=HOWTOS,
        timeout=120,
        check=False,
    )
    return f"exit {done.returncode}\n{done.stdout}{done.stderr.strip().splitlines()[-1:] if done.returncode else ''}"


@pytest.mark.parametrize(
    "program",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=DIFFERENT[name]))
        if name in DIFFERENT
        else name
        for name in PROGRAMS
    ],
)
def test_howto_prints_the_same_on_threadloom_as_on_langgraph(program: str) -> None:
    """The program, with langgraph replaced by threadloom in its source, prints what LangGraph prints."""
    source = (HOWTOS / f"{program}.py").read_text()
    reference = run(source)
    assert reference.startswith("exit 0\n"), reference
    migrated = run(migrate(source))
    assert normalise(migrated) == normalise(reference)
