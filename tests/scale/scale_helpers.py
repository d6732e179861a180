"""Helpers of the scale-out tests: reading a study and checking that it holds exactly n_trials."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_trials(storage: str, study_name: str) -> list[Any]:
    import optuna

    from crescendo.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    return study.get_trials(deepcopy=False)


def check_exactly(trials: list[Any], n_trials: int, run_dir_file: str | None = "result.json") -> None:
    """Exactly n_trials counted finished trials, unique numbers, a run dir for each that ran."""
    from hydra_plugins.crescendo_sweeper import _ledger as results

    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) and sorted(numbers) == list(range(len(numbers)))
    counts = results.Counts.of(trials)
    assert counts.finished == n_trials, [(t.number, t.state.name, t.user_attrs) for t in trials]
    assert counts.running == counts.waiting == 0
    retried = results.retried_numbers(trials)
    for t in trials:
        if results.not_counted(t, retried):
            continue
        run_dir = t.user_attrs.get(results.RUN_DIR)
        assert run_dir and Path(run_dir).is_dir(), (t.number, t.user_attrs)
        if run_dir_file and t.state.name == "COMPLETE":
            assert (Path(run_dir) / run_dir_file).is_file(), (t.number, run_dir)
