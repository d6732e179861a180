"""Property: whatever value a user types for the main keys — numbers, strings, lists, empty values,
unicode, malformed search expressions — `cr` never prints a traceback. It trains (exit 0) or stops with
one `cr: error:` line (exit 2); exit 1 only for a loss that turned NaN/inf. Single runs and 1-trial
searches, in this process through the console script's entry point (`crescendo.cli.main`)."""

from __future__ import annotations

import gc
import sys
import uuid
from pathlib import Path

import pytest
from helpers import write_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = ["model.optimizer.lr", "model.architecture", "data.batch_size", "trainer.max_epochs", "seed", "monitor",
        "model.batch_norm"]
MALFORMED = ["choice(", "interval(1,", "range(a,b)", "interval(", "choice()", "range(1,", "tag(log, interval(0, 1))",
             "interval(0.1, 0.01)", "range(5, 1)", "${oops}", "{a: 1}", "[1, 2", "]", "'", '"', "=", "choice(a,,b)",
             "interval(nan, 1)", "tag(fast, choice(1, 2))", "glob(*)"]
VALID_SEARCH = ["choice(1, 2)", "interval(0.001, 0.01)", "choice(true, false)", "range(8, 33, 8)",
                "tag(log, interval(0.0001, 0.1))", "choice(val/loss, train/loss)"]
# how cr says that the loss turned NaN/inf (crescendo.errors.NonFiniteLossError; a trial: its error)
NON_FINITE = ("training diverged", "nothing was learned", "objective is nan", "objective is inf", "objective is -inf")
# what a shell hands over: printable text (no control characters, no lone surrogates)
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
NUMBER = st.one_of(st.integers(-3, 40), st.integers(), st.floats(allow_nan=True, allow_infinity=True))
VALUE = st.one_of(
    NUMBER.map(str),
    TEXT,
    st.lists(st.integers(-2, 9), max_size=4).map(lambda xs: "[" + ",".join(map(str, xs)) + "]"),
    st.sampled_from(["", "null", "true", "false", "[]", "{}", "-", "0", "1e-300", "1e300", "ünïcødé", "数据", "🙂"]),
    st.sampled_from(MALFORMED),
    st.sampled_from(VALID_SEARCH),
)
OVERRIDES = st.lists(st.tuples(st.sampled_from(KEYS), VALUE), min_size=1, max_size=2, unique_by=lambda kv: kv[0])


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    """`cr ARGS` through the console script's entry point, in this process: (exit status, stdout, stderr)."""
    from hydra.core.global_hydra import GlobalHydra

    from crescendo.cli import main

    argv = sys.argv
    sys.argv = ["cr", *args]
    GlobalHydra.instance().clear()
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException as error:  # noqa: BLE001 - an escaped exception is exactly what this test looks for
        import traceback

        print("".join(traceback.format_exception(error)), file=sys.stderr)
        code = 1
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
        gc.unfreeze()  # main() freezes the heap for a fast exit; this process goes on
    out, err = capsys.readouterr()
    return code, out, err


def problem(code: int, out: str, err: str) -> str | None:
    """What is wrong with this outcome, or None."""
    if "Traceback" in out + err:
        return "a traceback"
    if code == 0:
        return None
    if code == 2:
        return None if err.count("cr: error:") == 1 else "exit 2 without exactly one cr: error line"
    if code == 1 and "cr: error:" in err and any(why in err for why in NON_FINITE):
        return None  # the loss turned NaN/inf (a single run, or the search's only trial)
    return f"exit {code}"


def _few_epochs(key: str, value: str) -> str:
    """A huge trainer.max_epochs is a valid (endless) run, not bad input: cap it at 3."""
    try:
        too_many = key == "trainer.max_epochs" and float(value) > 3
    except ValueError:
        too_many = False
    return "3" if too_many else value


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_arrays(tmp_path_factory.mktemp("data"), rows=(24, 8, 0))


@pytest.mark.slow
@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(overrides=OVERRIDES, search=st.booleans())
def test_cr_never_prints_a_traceback(overrides, search, data_dir, tmp_path, capsys):
    root = tmp_path / uuid.uuid4().hex[:8]
    args = ["data=regression", f"+data.data_dir={data_dir}", "trainer.max_epochs=1", "trainer.accelerator=cpu",
            "quiet=true", f"paths.root_dir={root}"]
    if search:
        args += ["hparams_search=optuna", "hydra.sweeper.n_trials=1", "model.dropout=choice(0.0, 0.1)"]
    args += [f"{key}={_few_epochs(key, value)}" for key, value in overrides]
    capsys.readouterr()
    code, out, err = run_main(args, capsys)
    assert problem(code, out, err) is None, f"cr {' '.join(args[6:])}\nexit {code}\n{err[-2000:]}"
