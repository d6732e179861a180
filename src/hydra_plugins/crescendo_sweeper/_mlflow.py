"""A search in MLflow: one parent run per study, one nested run per trial.

When the search's config has ``logger.mlflow``, the sweeper opens (or, resuming, finds again) the
study's parent run in that tracking store, and every trial's job gets one more override,
``++logger.mlflow.tags={mlflow.parentRunId: …, optuna.study_name: …, optuna.trial_number: N}``: the
run learns of its trial only through its composed config, and MLflow nests it under the parent (the
``mlflow.parentRunId`` tag is how MLflow records nesting). After each tell the sweeper tags the trial's
run with the state the study recorded (``optuna.trial_state``: COMPLETE, PRUNED or FAIL), and at the
end it closes the parent run (FINISHED; FAILED when the search aborted; KILLED when interrupted).

Tracking is a record, not the search: an MLflow error after the parent run exists is a warning.
mlflow is imported only when a search uses it.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from crescendo.errors import ConfigError
from crescendo.mlflow_store import artifact_location_for, cannot_open, local_tracking_uri, unreachable_server
from crescendo.search.storage import hide_password

__all__ = ["MlflowStudy", "close_study_run", "mlflow_study", "open_study_run", "record_trial_state", "trial_overrides"]

LOGGER_KEY = "logger.mlflow"
PARENT_TAG = "mlflow.parentRunId"
STUDY_TAG = "optuna.study_name"
STORAGE_TAG = "optuna.storage"
TRIAL_TAG = "optuna.trial_number"
STATE_TAG = "optuna.trial_state"
SWEEP_DIR_TAG = "crescendo.sweep_dir"


@dataclass(frozen=True)
class MlflowStudy:
    """Where the study's runs go; `parent_run_id` is known once the search has opened its parent run."""

    tracking_uri: str
    experiment_name: str
    artifact_location: str | None
    parent_run_id: str | None = None


def mlflow_study(cfg: DictConfig) -> MlflowStudy | None:
    """The search's MLflow settings, or None when its runs do not log to MLflow."""
    node = OmegaConf.select(cfg, LOGGER_KEY, default=None)
    if not node:
        return None
    try:  # what the runs will resolve the same way; a value only a run can resolve (${hydra:runtime...}) cannot nest
        uri = local_tracking_uri(str(node.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI", "")))
        experiment, location = str(node.get("experiment_name") or "lightning_logs"), node.get("artifact_location")
    except Exception:  # noqa: BLE001
        print("cr: note: logger.mlflow's store depends on the run; the trials' MLflow runs are not nested under a "
              "study run")
        return None
    if not uri:
        return None  # Lightning's own default (a file store beside the process): nothing to nest under
    absent = unreachable_server(uri)
    if absent is not None:  # before the study opens: MLflow itself would retry for minutes
        raise ConfigError(cannot_open(uri, absent))
    return MlflowStudy(tracking_uri=uri, experiment_name=experiment,
                       artifact_location=str(location) if location else artifact_location_for(uri))


def trial_overrides(study: MlflowStudy | None, study_name: str, number: int) -> list[str]:
    """The trial's tags, as one override of the run's MLflow logger."""
    if study is None:
        return []
    tags = {STUDY_TAG: study_name, TRIAL_TAG: str(int(number))}
    if study.parent_run_id:
        tags = {PARENT_TAG: study.parent_run_id, **tags}
    text = ",".join(f"{key}:'{value}'" for key, value in tags.items())
    return [f"++{LOGGER_KEY}.tags={{{text}}}"]


def _client(study: MlflowStudy) -> Any:
    if study.tracking_uri.startswith("sqlite:"):
        # forked workers must not share the parent's pooled SQLite connections: one connection per use
        os.environ.setdefault("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    from mlflow import MlflowClient

    # a search prints one line per trial; MLflow's INFO lines (engine, table set-up) are noise there
    logging.getLogger("mlflow").setLevel(max(logging.WARNING, logging.getLogger("mlflow").level))

    return MlflowClient(study.tracking_uri)


def open_study_run(study: MlflowStudy | None, study_name: str, storage_url: str, sweep_dir: str) -> MlflowStudy | None:
    """Create the study's parent run (or reopen the one an earlier search of this study left); returns
    `study` with its id."""
    if study is None:
        return None
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

    client = _client(study)
    experiment = client.get_experiment_by_name(study.experiment_name)
    if experiment is None or experiment.lifecycle_stage == "deleted":
        experiment_id = client.create_experiment(study.experiment_name, artifact_location=study.artifact_location)
    else:
        experiment_id = experiment.experiment_id
    storage = hide_password(storage_url)
    found = client.search_runs(
        [experiment_id], f"tags.`{STUDY_TAG}` = '{_quoted(study_name)}' and tags.`{STORAGE_TAG}` = '{_quoted(storage)}'",
        max_results=50, order_by=["attributes.start_time DESC"])
    parents = [run for run in found if PARENT_TAG not in run.data.tags and TRIAL_TAG not in run.data.tags]
    if parents:
        run_id = parents[0].info.run_id
        client.update_run(run_id, status="RUNNING")
    else:
        tags = {STUDY_TAG: study_name, STORAGE_TAG: storage, SWEEP_DIR_TAG: sweep_dir,
                MLFLOW_RUN_NAME: f"study {study_name}"}
        run_id = client.create_run(experiment_id, tags=tags).info.run_id
    return MlflowStudy(study.tracking_uri, study.experiment_name, study.artifact_location, run_id)


def record_trial_state(study: MlflowStudy | None, number: int, state: str) -> None:
    """Tag trial `number`'s run (the newest under the parent) with the state the study recorded."""
    if study is None or not study.parent_run_id:
        return
    try:
        client = _client(study)
        parent = client.get_run(study.parent_run_id)
        runs = client.search_runs(
            [parent.info.experiment_id],
            f"tags.`{PARENT_TAG}` = '{study.parent_run_id}' and tags.`{TRIAL_TAG}` = '{int(number)}'",
            max_results=1, order_by=["attributes.start_time DESC"])
        if runs:
            client.set_tag(runs[0].info.run_id, STATE_TAG, state)
    except Exception as error:  # noqa: BLE001 - the study holds the state; the tag only mirrors it
        _warn(f"cannot tag trial #{number}'s MLflow run with its state {state}", error)


def close_study_run(study: MlflowStudy | None, status: str, best: dict[str, Any] | None = None) -> None:
    """End the parent run with `status` (FINISHED, FAILED, KILLED), with the best trial's value and number."""
    if study is None or not study.parent_run_id:
        return
    try:
        client = _client(study)
        if best:
            for key, value in best.items():
                client.set_tag(study.parent_run_id, f"optuna.{key}", str(value))
        client.set_terminated(study.parent_run_id, status=status)
    except Exception as error:  # noqa: BLE001 - the search itself has ended as it should
        _warn("cannot close the study's MLflow run", error)


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")


def _warn(what: str, error: BaseException) -> None:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    print(f"cr: warning: {what} ({type(error).__name__}: {first})", file=sys.stderr, flush=True)
