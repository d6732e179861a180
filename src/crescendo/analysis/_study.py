"""Open a search's Optuna study from its storage URL without creating anything that is not there."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from crescendo.analysis._files import hide_password
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import optuna

__all__ = ["load_study"]


def load_study(directory: Path, storage: str, study_name: str | None) -> optuna.Study:
    import optuna

    shown = hide_password(storage)
    if storage.startswith("sqlite:///"):
        database = Path(storage[len("sqlite:///"):])
        if not database.is_absolute():
            database = directory / database if (directory / database).is_file() else database
        if not database.is_file():  # optuna would create an empty database here
            raise CrescendoError(f"{directory}: the study's database {database} does not exist")
        storage = f"sqlite:///{database}"
    try:
        names = optuna.study.get_all_study_names(storage=storage)
    except Exception as error:  # noqa: BLE001 - any storage backend's connection error
        raise CrescendoError(
            f"{directory}: cannot open the study storage {shown} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})"
        ) from None
    if study_name is None or study_name not in names:
        if len(names) == 1 and study_name is None:
            study_name = names[0]
        else:
            raise CrescendoError(
                f"{directory}: the storage {shown} has no study {study_name!r} — it holds "
                f"{', '.join(map(repr, names)) or 'no study'}"
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
        return optuna.load_study(study_name=study_name, storage=storage)
