"""Opening the study's storage so that a trial costs a handful of database round trips.

Optuna's cached RDB storage re-reads the study's unfinished and new trials from the database on every
`study.get_trials()`: at every `ask`, and at every pruning check (the pruner reads the completed
trials once per epoch). On SQLite that is a few milliseconds each, tens per trial. `WorkerStorage`
reads the study once per trial instead — the sweeper calls `refresh()` after each `tell`; pruning
checks inside the job then use that snapshot (the completed trials they compare against cannot change
while the job runs, except by other workers, whose results the next trial sees). Writes still go
straight to the database, so the study on disk is always current and other processes can share it.

SQLite files are opened in WAL mode with synchronous=NORMAL (a commit does not wait for fsync;
a crash of the process loses nothing, a power cut at most the last commits) and a 60 s busy timeout,
so several processes on one machine can share a file. WAL needs a local filesystem.
"""

from __future__ import annotations

from typing import Any

from optuna.storages import BaseStorage, RDBStorage, _CachedStorage


class WorkerStorage(_CachedStorage):
    """`_CachedStorage` that reads the study from the database at most once between `refresh()`es."""

    def __init__(self, backend: RDBStorage) -> None:
        super().__init__(backend)
        self._read_since_refresh: set[int] = set()

    def refresh(self) -> None:
        """The next read of each study goes to the database again."""
        self._read_since_refresh.clear()

    def _read_trials_from_remote_storage(self, study_id: int) -> None:
        if study_id in self._read_since_refresh:
            return
        super()._read_trials_from_remote_storage(study_id)
        self._read_since_refresh.add(study_id)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_storage(url: str) -> BaseStorage:
    """An Optuna storage for `url`: RDB URLs (sqlite, postgresql, mysql) get `WorkerStorage`."""
    import optuna

    if url.startswith("sqlite:"):
        from sqlalchemy import event

        backend = RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        event.listen(backend.engine, "connect", _sqlite_pragmas)
        backend.engine.dispose()  # connections opened while creating the tables lack the pragmas
        return WorkerStorage(backend)
    if "://" in url and not url.startswith(("redis", "grpc")):
        return WorkerStorage(RDBStorage(url))
    return optuna.storages.get_storage(url)


def refresh(storage: Any) -> None:
    if isinstance(storage, WorkerStorage):
        storage.refresh()
