"""`cr-predict`, `cr-export` and `cr-report`: the analysis API from the command line.

Thin faces: the work is in `tables` (array files), `export` (raw-input model files) and `report`.
User errors (a bad path, a wrong input width, a bad option) print one line,
``cr-predict: error: <message>``, and exit with status 2, without a traceback; outputs are written
atomically, so a failed command leaves no file behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Sequence

from crescendo.errors import CrescendoError, DataError

if TYPE_CHECKING:
    from crescendo.analysis import Ensemble, Run


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other error of these commands."""

    def error(self, message: str) -> NoReturn:
        _fail(self.prog, f"{message} (see {self.prog} --help)")


def _fail(prog: str, message: object) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _check_output(option: str, path: Path, *, directory: bool = False) -> None:
    """Fail before any work when the output cannot be written where it is asked for (under a file, in a
    read-only directory)."""
    from crescendo.outputs import check_writable_dir

    check_writable_dir(f"{option} {path}", path if directory else path.absolute().parent,
                       fix=f"give {option} a path in a directory you can write")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _target(path: str, ensemble: int | None) -> tuple[Run | Ensemble, str]:
    """What PATH predicts with — a run, a search's best run (or its `ensemble` best), an ensemble —
    and how to name it in the command's message."""
    from crescendo.analysis import Ensemble, Sweep, load

    target = load(path)
    if ensemble is not None and not isinstance(target, Sweep):
        raise CrescendoError(
            f"--ensemble K picks the K best runs of a search, but {path} is "
            f"{'an ensemble already' if isinstance(target, Ensemble) else 'a single run'} — drop --ensemble"
        )
    if isinstance(target, Sweep):
        if ensemble is not None:
            chosen = target.ensemble(ensemble)
            return chosen, f"{chosen.n_members} ensemble members, the {ensemble} best runs of {target.path}"
        best = target.best_trial
        return target.run(best), f"the best run of the search (trial #{best.number}, {target.run(best).path})"
    if isinstance(target, Ensemble):
        return target, f"{target.n_members} ensemble members ({target.path})"
    return target, f"run {target.path}"


# ---------------------------------------------------------------------- cr-predict

PREDICT_DESCRIPTION = """\
Predict with a trained run, a search or an ensemble, from RAW inputs (the run's own feature
selection and input scaler are applied; with data.normalize_targets the predictions are mapped back
to the targets' own units).

PATH is a run directory (its best checkpoint), a search directory (its best run, or with
--ensemble K the mean of its K best runs) or an ensemble (a batched-ensemble run, or a multirun
directory of member runs: the members' mean).

X is .npy, .npz (one array, or the one --key names) or .csv (comma-separated numbers, one row per
line; a first row with any non-numeric cell is a header and is skipped; columns are taken by
position). The predictions (n, targets) are written in the format of -o's suffix (default: beside X
in X's format, X.npy -> X.pred.npy): .npy; .npz with one array named y (--std: std); .csv with a
header row y0,y1,... (--std: std0,std1,...)."""

PREDICT_EXAMPLES = """\
examples:
  cr-predict results/train/runs/2025-01-01_12-00-00_000000 X_new.npy            # writes X_new.pred.npy
  cr-predict results/train/runs/2025-01-01_12-00-00_000000 spectra.csv -o Y.csv
  cr-predict results/train/multiruns/2025-01-01_12-00-00_000000 X.npz --key x -o Y.npz --ensemble 5 --std S.npz
"""


def predict_main(argv: Sequence[str] | None = None) -> None:
    """Console script `cr-predict PATH X [-o Y] [--key NAME] [--ensemble K] [--std STD]`."""
    parser = _Parser(prog="cr-predict", description=PREDICT_DESCRIPTION, epilog=PREDICT_EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", metavar="PATH", help="a run, search (multirun) or ensemble directory")
    parser.add_argument("inputs", metavar="X", help="raw inputs (n, features): .npy, .npz or .csv")
    parser.add_argument("-o", "--output", metavar="Y",
                        help="where to write the predictions: .npy, .npz or .csv (default: X.pred + X's suffix)")
    parser.add_argument("--key", metavar="NAME", help="the inputs' array name when X is a .npz holding several")
    parser.add_argument("--ensemble", metavar="K", type=_positive_int,
                        help="for a search: predict with its K best complete runs and write their mean")
    parser.add_argument("--std", metavar="STD",
                        help="with an ensemble: also write the members' standard deviation here (.npy, .npz, .csv)")
    parser.add_argument("--device", default="cpu", help="torch device to predict on (default: cpu)")
    args = parser.parse_args(argv)
    try:
        message = _predict(args)
    except CrescendoError as error:
        _fail(parser.prog, error)
    print(message)


def _predict(args: argparse.Namespace) -> str:
    from crescendo.analysis import Run
    from crescendo.analysis.tables import check_writable, default_output, read_array, write_array

    inputs = Path(args.inputs)
    x, how = read_array(inputs, args.key)  # a missing or unreadable input is named before its default output
    output = Path(args.output) if args.output is not None else default_output(inputs)
    check_writable(output, "-o")
    _check_output("-o", output)
    std_path = Path(args.std) if args.std is not None else None
    if std_path is not None:
        check_writable(std_path, "--std")
        _check_output("--std", std_path)
    for option, path in (("-o", output), ("--std", std_path)):
        if path is not None and path.resolve() == inputs.resolve():
            raise CrescendoError(f"{option} {path}: is the input file — name another file for the predictions")

    target, what = _target(args.path, args.ensemble)
    if std_path is not None and isinstance(target, Run):
        raise CrescendoError(
            f"--std needs an ensemble (several members), but {args.path} gives a single run — "
            "use --ensemble K with a search, or an ensemble directory"
        )
    try:
        import torch

        torch.device(args.device)
    except RuntimeError as error:
        raise CrescendoError(f"--device {args.device}: {error}") from None

    try:
        if isinstance(target, Run):
            prediction, std = target.predict(x, device=args.device), None
        else:
            prediction, std = target.predict_stats(x, device=args.device)
    except DataError as error:  # the inputs do not fit the model: name their file
        raise DataError(f"{inputs}: {error}") from None
    write_array(output, prediction, "y", "-o")
    written = [f"{output} {tuple(prediction.shape)}"]
    if std is not None and std_path is not None:
        write_array(std_path, std, "std", "--std")
        written.append(f"{std_path} (std)")
    read = f" ({inputs.name}: {how})" if how not in ("npy", "csv") else ""
    source = what if isinstance(target, Run) else f"the mean of {what}"
    return f"cr-predict: wrote {', '.join(written)} from {source}{read}"


# ---------------------------------------------------------------------- cr-export

EXPORT_DESCRIPTION = """\
Write a trained model as one file that takes RAW inputs: the run's feature selection and input
scaler (and its target scaler's inverse, with data.normalize_targets) are built in, so it gives what
cr-predict gives. Inputs are float32 (n, raw features), any n.

PATH is a run directory, a search directory (its best run, or with --ensemble K its K best runs) or
an ensemble (a batched-ensemble run, or a multirun directory of member runs). An ensemble's file
outputs the members' mean (n, targets), or with --members every member's prediction
(members, n, targets).

FILE's suffix picks the format:
  .pt2   torch.export; load with torch.export.load(FILE).module() (needs only torch)
  .onnx  ONNX, input "x", output "y"; run with onnxruntime (pip install 'crescendo[onnx]')"""

EXPORT_EXAMPLES = """\
examples:
  cr-export results/train/multiruns/2025-01-01_12-00-00_000000 -o best.pt2
  cr-export results/train/runs/2025-01-01_12-00-00_000000 -o model.onnx
  cr-export results/train/runs/<a model=mlp_ensemble run> -o members.pt2 --members
"""


def export_main(argv: Sequence[str] | None = None) -> None:
    """Console script `cr-export PATH -o FILE [--ensemble K] [--members]`."""
    parser = _Parser(prog="cr-export", description=EXPORT_DESCRIPTION, epilog=EXPORT_EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", metavar="PATH", help="a run, search (multirun) or ensemble directory")
    parser.add_argument("-o", "--output", metavar="FILE", required=True, help="the file to write: .pt2 or .onnx")
    parser.add_argument("--ensemble", metavar="K", type=_positive_int,
                        help="for a search: export its K best complete runs as one ensemble")
    parser.add_argument("--members", action="store_true",
                        help="for an ensemble: output every member's prediction, not their mean")
    args = parser.parse_args(argv)
    try:
        message = _export(args)
    except CrescendoError as error:
        _fail(parser.prog, error)
    print(message)


def _export(args: argparse.Namespace) -> str:
    from crescendo import __version__
    from crescendo.analysis import Run
    from crescendo.analysis.export import FORMATS, check_format, export_model

    output = Path(args.output)
    suffix = check_format(output)  # an unknown suffix or a missing extra fails before any work
    _check_output("-o", output)
    target, source = _target(args.path, args.ensemble)
    if args.members and isinstance(target, Run):
        raise CrescendoError(f"--members needs an ensemble, but {args.path} gives a single run — drop --members")
    runs = [target] if isinstance(target, Run) else target.runs
    output_dims = runs[0].result.get("output_dims")
    if isinstance(target, Run):
        shape, what = f"(n, {output_dims})", "its prediction"
    elif args.members:
        shape, what = f"({target.n_members}, n, {output_dims})", "every member's prediction"
    else:
        shape, what = f"(n, {output_dims})", f"the mean of {target.n_members} members"
    metadata = {
        "crescendo": __version__, "source": str(Path(args.path).resolve()), "runs": [str(r.path) for r in runs],
        "input": f"float32 (n, {runs[0].raw_input_dims}), raw: feature selection and scaler are built in",
        "output": f"{shape}: {what}",
    }
    export_model(target, output, members=args.members, metadata=metadata)
    load = (f"torch.export.load({str(output)!r}).module()(x)" if suffix == ".pt2"
            else f"onnxruntime.InferenceSession({str(output)!r}).run(None, {{'x': x}})[0]")
    return (f"cr-export: wrote {output} ({FORMATS[suffix]}) from {source}: "
            f"raw inputs (n, {runs[0].raw_input_dims}) float32 -> {shape}, {what}\n"
            f"cr-export: use it with {load}")


# ---------------------------------------------------------------------- cr-report

REPORT_DESCRIPTION = """\
Write report.html with PNG figures for a run, a search or an ensemble. The page opens offline.
A search gets its optimisation history (pruned trials marked), parameter importances, parallel
coordinates, slice plots, the learning curves of its 5 best runs and the trials table (the best
trial highlighted, each run linked); a run its learning curves, summary and config."""


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

        if args.output is not None:
            _check_output("-o", Path(args.output), directory=True)
        page = write_report(load(args.path), args.output)
    except CrescendoError as error:
        _fail(parser.prog, error)
    print(f"cr-report: wrote {page}")
