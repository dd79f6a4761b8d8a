"""Commands the CLI prints for the user to paste, and how a chat ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from threadloom.cli import main
from threadloom.cli._launcher import launcher, shell_command

SCRIPT = Path(sys.executable).with_name("threadloom")


def _hint(out: str, marker: str) -> str:
    """The command printed after ``marker`` (to the end of its line)."""
    return out.split(marker, 1)[1].splitlines()[0].strip() if marker in out else ""


def test_launcher_variable_starts_the_hint() -> None:
    """./run sets THREADLOOM_LAUNCHER, so hints say ./run chat ..."""
    assert shell_command(["chat", "--user", "u"], env={"THREADLOOM_LAUNCHER": "./run"}, argv0="x") == (
        "./run chat --user u"
    )


def test_script_on_path_is_named_by_its_name(tmp_path: Path) -> None:
    """The console script found on PATH is printed as plain `threadloom`, else by its full path."""
    script = tmp_path / "bin" / "threadloom"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert launcher({"PATH": str(script.parent)}, str(script)) == ["threadloom"]
    assert launcher({"PATH": str(tmp_path)}, str(script)) == [str(script)]
    assert launcher({}, "/somewhere/pytest") == [sys.executable, "-m", "threadloom.cli"]


def test_every_word_is_shell_quoted() -> None:
    """A user name with a space and a path with a quote come out pasteable."""
    line = shell_command(["chat", "--user", "Zoë Q", "--db", "it's.db"], env={"THREADLOOM_LAUNCHER": "./run"})
    assert line == "./run chat --user 'Zoë Q' --db 'it'\"'\"'s.db'"


def test_demo_hint_uses_the_launcher(isolated_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    """After ./run demo, the way to continue starts with ./run, not a command that is not on PATH."""
    monkeypatch.setenv("THREADLOOM_LAUNCHER", "./run")
    db = str(isolated_env / "my demo.db")
    assert main(["demo", "--db", db]) == 0
    out = capsys.readouterr().out
    user = re.search(r"demo-\w+-user-1", out).group(0)  # type: ignore[union-attr]
    assert f"  ./run chat --user {user} --db '{db}'\n" in out


def test_pasting_the_chat_hint_resumes_the_thread(isolated_env: Path, run_cli: Any) -> None:
    """The goodbye line, pasted into a shell as printed, resumes the same user's thread."""
    db = isolated_env / "with space.db"
    first = run_cli(["chat", "--user", "Zoë Q", "--db", str(db)], stdin="Remember: my name is Zoë\n")
    assert first.returncode == 0, first.stderr
    command = _hint(first.stdout, "Resume this thread with:")
    assert command.startswith(str(SCRIPT))  # not on PATH here, so its full path
    resumed = subprocess.run(
        ["bash", "-c", command], input="/quit\n", capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "user Zoë Q, thread chat-" in resumed.stdout
    assert "(resumed, 2 messages)" in resumed.stdout


def test_pasting_the_demo_hint_starts_chat_with_user_1s_memories(isolated_env: Path, run_cli: Any) -> None:
    """The demo's closing command, pasted as printed, opens a chat that knows user 1's name."""
    demo = run_cli(["demo", "--db", str(isolated_env / "demo.db")])
    assert demo.returncode == 0, demo.stderr
    command = demo.stdout.rstrip().splitlines()[-1].strip()
    chat = subprocess.run(
        ["bash", "-c", command], input="what is my name?\n", capture_output=True, text=True, timeout=120
    )
    assert chat.returncode == 0, chat.stderr
    assert "Your name is Bob" in chat.stdout


def test_ctrl_c_in_chat_prints_the_resume_hint(isolated_env: Path) -> None:
    """Ctrl-C at the prompt leaves with status 130 and the same resume line as Ctrl-D."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [str(SCRIPT), "chat", "--user", "dana", "--thread", "t-int", "--db", str(isolated_env / "c.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A suite started in the background inherits SIGINT ignored, and Python keeps an
        # ignored SIGINT ignored; the chat must see Ctrl-C as a terminal user sends it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 120
    while "you> " not in seen and time.monotonic() < deadline:
        seen += proc.stdout.read(1)  # unbuffered: the prompt has no newline
    assert "you> " in seen
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "Resume this thread with:" in out
    assert "chat --user dana --thread t-int --db" in out
