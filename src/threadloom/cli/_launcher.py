"""Commands the CLI prints for the user to paste: started the way they started this one.

``./run chat`` sets ``THREADLOOM_LAUNCHER=./run`` (as typed), so its hints
say ``./run chat ...``; the installed console script says ``threadloom`` when
that name finds it on ``PATH``, else its full path; anything else (``python -m
threadloom.cli``, a test) gets ``<python> -m threadloom.cli``. Every word is
shell-quoted, so a user named ``Zoë Q`` gets a line that pastes as is.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence

__all__ = ["LAUNCHER_ENV", "launcher", "shell_command"]

LAUNCHER_ENV = "THREADLOOM_LAUNCHER"
SCRIPT_NAME = "threadloom"


def launcher(env: Mapping[str, str], argv0: str) -> list[str]:
    """The words that start the ``threadloom`` command from where the user stands."""
    given = env.get(LAUNCHER_ENV, "").strip()
    if given:
        return [given]
    if os.path.basename(argv0) == SCRIPT_NAME and os.path.isfile(argv0):
        on_path = shutil.which(SCRIPT_NAME, path=env.get("PATH"))
        if on_path is not None and os.path.samefile(on_path, argv0):
            return [SCRIPT_NAME]
        return [os.path.abspath(argv0)]
    return [sys.executable, "-m", "threadloom.cli"]


def shell_command(
    words: Sequence[str], *, env: Mapping[str, str] | None = None, argv0: str | None = None
) -> str:
    """``threadloom WORDS...`` as one pasteable, shell-quoted line."""
    start = launcher(os.environ if env is None else env, sys.argv[0] if argv0 is None else argv0)
    return shlex.join([*start, *words])
