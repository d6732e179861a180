"""`cr-predict` and `cr-report`: the analysis API from the command line.

User errors (a bad path, a wrong input width, a bad option) print one line,
``cr-predict: error: <message>``, and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from crescendo.errors import CrescendoError


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other error of these commands."""

    def error(self, message: str) -> NoReturn:
        _fail(self.prog, f"{message} (see {self.prog} --help)")


def _fail(prog: str, message: object) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


# ---------------------------------------------------------------------- cr-predict

PREDICT_DESCRIPTION = """\
Predict with a trained run, a search or an ensemble, from RAW inputs (the run's own feature
selection and input scaler are applied). Writes the predictions (n, targets) as .npy.

PATH is a run directory (its best checkpoint), a search directory (its best run, or with
--ensemble K the mean of its K best runs) or an ensemble (a batched-ensemble run, or a multirun
directory of member runs: the members' mean)."""

PREDICT_EXAMPLES = """\
examples:
  cr-predict results/train/runs/2025-01-01_12-00-00_000000 X_new.npy -o Y_pred.npy
  cr-predict results/train/multiruns/2025-01-01_12-00-00_000000 X_new.npy -o Y.npy --ensemble 5 --std Y_std.npy
"""


def predict_main(argv: Sequence[str] | None = None) -> None:
    """Console script `cr-predict PATH X.npy -o Y.npy [--ensemble K] [--std STD.npy]`."""
    parser = _Parser(prog="cr-predict", description=PREDICT_DESCRIPTION, epilog=PREDICT_EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", metavar="PATH", help="a run, search (multirun) or ensemble directory")
    parser.add_argument("inputs", metavar="X.npy", help="raw inputs, a 2-D array (n, features)")
    parser.add_argument("-o", "--output", metavar="Y.npy", required=True, help="where to write the predictions")
    parser.add_argument("--ensemble", metavar="K", type=_positive_int,
                        help="for a search: predict with its K best complete runs and write their mean")
    parser.add_argument("--std", metavar="STD.npy",
                        help="with an ensemble: also write the members' standard deviation here")
    parser.add_argument("--device", default="cpu", help="torch device to predict on (default: cpu)")
    args = parser.parse_args(argv)
    try:
        message = _predict(args)
    except CrescendoError as error:
        _fail(parser.prog, error)
    print(message)


def _predict(args: argparse.Namespace) -> str:
    from crescendo.analysis import Ensemble, Run, Sweep, load

    target = load(args.path)
    if args.ensemble is not None and not isinstance(target, Sweep):
        raise CrescendoError(
            f"--ensemble K picks the K best runs of a search, but {args.path} is "
            f"{'an ensemble already' if isinstance(target, Ensemble) else 'a single run'} — drop --ensemble"
        )
    if isinstance(target, Sweep):
        target = target.ensemble(args.ensemble) if args.ensemble is not None else target.best_run
    if args.std is not None and not isinstance(target, Ensemble):
        raise CrescendoError(
            f"--std needs an ensemble (several members), but {args.path} gives a single run — "
            "use --ensemble K with a search, or an ensemble directory"
        )
    x = _load_inputs(Path(args.inputs))
    try:
        import torch

        torch.device(args.device)
    except RuntimeError as error:
        raise CrescendoError(f"--device {args.device}: {error}") from None

    if isinstance(target, Run):
        prediction = target.predict(x, device=args.device)
        what = f"run {target.path}"
        std = None
    else:
        mean, std = target.predict_stats(x, device=args.device)
        prediction = mean
        what = f"the mean of {target.n_members} ensemble members"
    _save(Path(args.output), prediction, "-o")
    written = [f"{args.output} {tuple(prediction.shape)}"]
    if std is not None and args.std is not None:
        _save(Path(args.std), std, "--std")
        written.append(f"{args.std} (std)")
    return f"cr-predict: wrote {', '.join(written)} from {what}"


def _load_inputs(path: Path):
    import numpy as np

    if not path.is_file():
        raise CrescendoError(f"{path}: no such file — pass the raw inputs as a .npy file (n, features)")
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CrescendoError(f"{path}: cannot be read as a .npy array ({error})") from None
    if not isinstance(x, np.ndarray):
        raise CrescendoError(f"{path}: holds several arrays (.npz); pass one .npy array (n, features)")
    return x


def _save(path: Path, array, option: str) -> None:
    import numpy as np

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, array)
    except OSError as error:
        raise CrescendoError(f"{option} {path}: cannot be written ({error.strerror or error})") from None


# ---------------------------------------------------------------------- cr-report

REPORT_DESCRIPTION = """\
Write report.html with PNG figures for a run, a search or an ensemble. The page opens offline.
A search gets its optimisation history, parameter importances, parallel coordinates, slice plots,
the learning curves of its 5 best runs and the trials table; a run its learning curves and summary."""


def report_main(argv: Sequence[str] | None = None) -> None:
    """Console script `cr-report PATH [-o DIR]`."""
    parser = _Parser(prog="cr-report", description=REPORT_DESCRIPTION)
    parser.add_argument("path", metavar="PATH", help="a run, search (multirun) or ensemble directory")
    parser.add_argument("-o", "--output", metavar="DIR", help="where to write the report (default: PATH/report)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")  # a fresh process that only writes files
    try:
        from crescendo.analysis import load, write_report

        page = write_report(load(args.path), args.output)
    except CrescendoError as error:
        _fail(parser.prog, error)
    print(f"cr-report: wrote {page}")
