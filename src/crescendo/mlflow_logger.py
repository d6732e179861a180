"""`logger=mlflow`: Lightning's MLFlowLogger with a local SQLite tracking store by default.

MLflow 3 keeps its file store (``file:./mlruns``) in maintenance mode; the store it recommends for
local use is a database. So `tracking_uri` defaults to ``sqlite:///<paths.root_dir>/mlflow.db``, with
the artifacts beside it (``<paths.root_dir>/mlartifacts``); any other URI (``http://host:5000``, a
database) is passed to MLflow unchanged and its server decides where artifacts go.

A run is named after its run directory (relative to where `cr` started) and tagged with its absolute
path (``crescendo.run_dir``). Nothing here imports mlflow: Lightning does, when the logger is built.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

from crescendo.errors import ConfigError
from crescendo.mlflow_store import (
    RUN_DIR_TAG,
    SQLITE,
    artifact_location_for,
    cannot_open,
    local_tracking_uri,
    run_name_for,
    unreachable_server,
)

__all__ = ["MLflowLogger"]


class MLflowLogger(MLFlowLogger):
    """MLFlowLogger (every argument as Lightning documents it), plus `run_dir` to name and tag the run."""

    def __init__(self, *, tracking_uri: str | None = None, artifact_location: str | None = None,
                 run_name: str | None = None, run_dir: str | None = None, tags: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        uri = local_tracking_uri(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", ""))
        if uri.startswith(SQLITE + "/"):
            Path(uri[len(SQLITE):]).parent.mkdir(parents=True, exist_ok=True)
        if artifact_location is None and uri:
            artifact_location = artifact_location_for(uri)
        tags = {str(key): str(value) for key, value in (tags or {}).items()}
        if run_dir is not None:
            run_name = run_name or run_name_for(run_dir)
            tags.setdefault(RUN_DIR_TAG, str(Path(run_dir).absolute()))
        super().__init__(tracking_uri=uri or None, artifact_location=artifact_location, run_name=run_name,
                         tags=tags or None, **kwargs)

    @property
    def experiment(self) -> Any:
        """Lightning's MLflow client, the run created on first use; a store that cannot be opened then
        (a server that does not answer, a database that cannot be written) is a config error naming the URI."""
        if self._initialized:
            return super().experiment
        absent = unreachable_server(str(self._tracking_uri or ""))
        if absent is not None:
            raise self._cannot_open(absent)
        try:
            return super().experiment
        except Exception as error:
            if not type(error).__module__.startswith("mlflow"):
                raise
            raise self._cannot_open(str(error).strip().splitlines()[0] if str(error).strip()
                                    else type(error).__name__) from None

    def _cannot_open(self, why: str) -> ConfigError:
        return ConfigError(cannot_open(str(self._tracking_uri), why))

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        """Lightning ends the run FAILED on any exception; one raised by Optuna's pruner stopped the run on
        purpose (a pruned trial is a result), so that run ends KILLED. Lightning calls this while handling
        the exception, which is how it is seen here."""
        if status == "failed" and _is_pruned(sys.exc_info()[1]):
            status = "KILLED"
        super().finalize(status)


def _is_pruned(error: BaseException | None) -> bool:
    optuna = sys.modules.get("optuna")  # a run that never imported Optuna was not pruned
    return error is not None and optuna is not None and isinstance(error, optuna.TrialPruned)
