"""Read back what `cr` wrote: runs, searches and ensembles; predict; write reports.

>>> from crescendo.analysis import load
>>> sweep = load("results/train/multiruns/2025-01-01_12-00-00_000000")   # a Sweep
>>> sweep.best_value, sweep.best_params
>>> y = sweep.best_run.predict(X_raw)                    # the run's own feature selection + scaler
>>> mean, std = sweep.ensemble(5).predict_stats(X_raw)   # the 5 best runs as an ensemble

- `Run` (`crescendo.analysis.run`): one run directory — config, result, metrics, model, predict.
- `Sweep` (`crescendo.analysis.sweep`): one search directory — study, trials, runs, best run, ensemble(k).
- `Ensemble` (`crescendo.analysis.ensemble`): members predicting together — predict, predict_stats.
- The original Crescendo 0.0.4's names, as thin faces over the three: `Estimator`
  (`crescendo.analysis.estimator`), `ModelSet`, `HPTunedSet` (`crescendo.analysis.model_sets`) and
  `Ensemble.from_root`. Their `predict` takes RAW inputs (0.0.4's took scaled ones). `load` also
  opens directories 0.0.4 wrote (`OriginalRun`, `OriginalSweep`).
- `write_report` (`crescendo.analysis.report`): report.html + PNG plots for any of the three.
- `export_model`, `raw_input_model` (`crescendo.analysis.export`): the model with its feature selection
  and input scaler built in, as a module or a .pt2 / .onnx file (imported on first use: torch).

Only the standard library, NumPy and OmegaConf are imported here; torch, pandas, Optuna and
matplotlib load when a model, a table, a study or a plot is first asked for.
"""

from crescendo.analysis.ensemble import Ensemble
from crescendo.analysis.estimator import Estimator
from crescendo.analysis.loading import load
from crescendo.analysis.model_sets import HPTunedSet, ModelSet
from crescendo.analysis.original_run import OriginalRun
from crescendo.analysis.original_sweep import OriginalSweep
from crescendo.analysis.report import write_report
from crescendo.analysis.run import Run
from crescendo.analysis.sweep import Sweep

__all__ = ["Ensemble", "Estimator", "HPTunedSet", "ModelSet", "OriginalRun", "OriginalSweep", "Run", "Sweep",
           "export_model", "load", "raw_input_model", "write_report"]

_LAZY = {"export_model": "crescendo.analysis.export", "raw_input_model": "crescendo.analysis.export"}


def __getattr__(name: str):  # PEP 562: torch is imported only when an export is asked for
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
