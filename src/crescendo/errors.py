"""User-facing errors.

Anything the user can fix (a missing file, a bad key, a wrong search syntax) is raised as a
`CrescendoError`. The `cr` entry point prints its message on one line and exits non-zero without a
traceback; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import NoReturn


class CrescendoError(Exception):
    """An error caused by the user's input, with a message that names the file or key and the fix."""


class DataError(CrescendoError):
    """The data files or data settings are unusable."""


class ConfigError(CrescendoError):
    """A config key holds a value it cannot take."""


class NonFiniteLossError(RuntimeError):
    """The loss turned NaN or infinite; training stops at once and the trial is recorded as failed."""


def exit_with(error: BaseException, code: int = 2) -> "NoReturn":
    """Print a user error as one line and leave without a traceback.

    `SystemExit` is not an `Exception`, so it passes through Hydra's error reporting untouched.
    """
    import sys

    print(f"cr: error: {error}", file=sys.stderr)
    raise SystemExit(code)
