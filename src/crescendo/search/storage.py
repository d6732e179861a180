"""Opening the study's storage: URL forms, heartbeats, and a trial that costs few database round trips.

URL forms (`hydra.sweeper.storage`):

    sqlite:///relative/study.db  sqlite:////abs/study.db   one machine (any number of processes on it)
    postgresql://user:password@host:5432/db                 many machines: the recommended shared server
    mysql+pymysql://user:password@host:3306/db              many machines (needs `pip install pymysql`)
    journal:///abs/path/study.log  journal://rel/study.log  a shared filesystem (NFS, Lustre) without a
                                                            database: Optuna's JournalStorage on a file

Any other SQLAlchemy URL goes to Optuna's RDBStorage unchanged.

Heartbeats: while a trial runs, its worker records a heartbeat every `heartbeat_interval` seconds;
a RUNNING trial whose last heartbeat is older than `grace_period` (default twice the interval) belongs
to a dead worker (SIGKILL, OOM, a lost node). The next worker that looks fails it and queues a copy
with the same parameters (Optuna's `RetryHeartbeatStaleTrialCallback`, at most `max_retry` times).
RDB storages use Optuna's own heartbeat table (the database's clock); the journal storage, which has
none in Optuna, records the time as a trial system attr (the machines' clocks must roughly agree).

Caching: Optuna's cached RDB storage re-reads the study's unfinished and new trials from the database
on every `study.get_trials()`: at every `ask`, and at every pruning check. `WorkerStorage` reads the
study once per trial instead — the sweeper calls `refresh()` before it asks and after each `tell`;
pruning checks inside the job then use that snapshot. Writes go straight to the database, so the
study is always current for other processes.

SQLite files are opened in WAL mode with synchronous=NORMAL and a 60 s busy timeout, so several
processes on one machine can share a file (WAL needs a local filesystem: on NFS use journal://).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage

from crescendo.errors import ConfigError
from crescendo.search.storage_kinds import HeartbeatJournalStorage, WorkerStorage

JOURNAL_SCHEME = "journal://"
URL_FORMS = (
    "sqlite:///path/study.db (one machine), postgresql://user:password@host:5432/db (a shared server), "
    "mysql+pymysql://user:password@host/db, or journal:///path/study.log (a shared filesystem without a database)"
)
_DRIVERS = {"postgresql": "psycopg2-binary", "mysql": "pymysql"}


def hide_password(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages and files."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def normalize_url(url: str) -> str:
    """The URL as the storage will open it: `postgres://` → `postgresql://`, a driver that is installed
    when the URL names none (SQLAlchemy's default for postgresql:// is psycopg 3, for mysql:// mysqlclient),
    journal paths absolute."""
    import importlib.util

    url = str(url).strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    for scheme, default, others in (("postgresql", "psycopg", ("psycopg2",)), ("mysql", "MySQLdb", ("pymysql",))):
        if url.startswith(f"{scheme}://") and importlib.util.find_spec(default) is None:
            for driver in others:
                if importlib.util.find_spec(driver) is not None:
                    url = f"{scheme}+{driver}://" + url[len(f"{scheme}://"):]
                    break
    if url.startswith(JOURNAL_SCHEME):
        path = url[len(JOURNAL_SCHEME):]
        if path:
            url = JOURNAL_SCHEME + str(Path(path).expanduser().absolute())
    return url


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""


def _first_line(error: BaseException) -> str:
    import re

    text = str(error).strip()
    for line in text.splitlines():
        if line.strip() and not line.startswith("(Background on this error"):
            return re.sub(r"^\([\w.]+\)\s*", "", line.strip())  # "(psycopg2.OperationalError) ..."
    return type(error).__name__


def open_storage(
    url: str,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = None,
    key: str = "hydra.sweeper.storage",
) -> BaseStorage:
    """An Optuna storage for `url` (see the module doc), with heartbeats when `heartbeat_interval` is set.

    Raises ConfigError naming `key`, the URL (password hidden) and the fix when the storage cannot be
    opened: an unknown form, a missing directory, a server that does not answer, a missing driver.
    """
    url = normalize_url(url)
    shown = hide_password(url)
    callback = None
    if heartbeat_interval:
        import warnings

        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
    scheme = _scheme(url)

    if url.startswith(JOURNAL_SCHEME):
        path = Path(url[len(JOURNAL_SCHEME):])
        if not str(path) or str(path) == ".":
            raise ConfigError(f"{key}={shown}: no file — write journal:///absolute/path/study.log")
        if not path.parent.is_dir():
            raise ConfigError(
                f"{key}={shown}: directory {path.parent} does not exist — create it (on a filesystem every "
                f"worker sees) or fix the path"
            )
        try:
            backend = JournalFileBackend(str(path))
            if heartbeat_interval:
                return HeartbeatJournalStorage(backend, heartbeat_interval, grace_period, callback)
            return JournalStorage(backend)
        except OSError as error:
            raise ConfigError(f"{key}={shown}: cannot use the journal file ({_first_line(error)})") from None

    if not scheme:
        raise ConfigError(f"{key}={shown}: not a storage URL — use {URL_FORMS}")
    if scheme in ("redis", "rediss", "grpc"):
        raise ConfigError(f"{key}={shown}: {scheme} storages are not supported — use {URL_FORMS}")

    engine_kwargs: dict[str, Any] = {}
    if scheme == "sqlite":
        database = url.split(":///", 1)[1] if ":///" in url else ""
        if database and database != ":memory:" and not database.startswith("file:"):
            directory = Path(database).expanduser().absolute().parent
            if not directory.is_dir():
                raise ConfigError(
                    f"{key}={shown}: directory {directory} does not exist — create it or fix the path "
                    f"(sqlite:///relative/study.db, sqlite:////absolute/study.db)"
                )
        engine_kwargs["connect_args"] = {"timeout": 60}
    elif scheme == "postgresql":
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    elif scheme == "mysql":
        engine_kwargs["connect_args"] = {"connect_timeout": 10}

    backend = _rdb_storage(url, shown, key, engine_kwargs, heartbeat_interval, grace_period, callback)
    if scheme == "sqlite":
        from sqlalchemy import event

        event.listen(backend.engine, "connect", _sqlite_pragmas)
        backend.engine.dispose()  # connections opened while creating the tables lack the pragmas
    return WorkerStorage(backend)


def _rdb_storage(
    url: str,
    shown: str,
    key: str,
    engine_kwargs: dict[str, Any],
    heartbeat_interval: int | None,
    grace_period: int | None,
    callback: Any,
) -> RDBStorage:
    import warnings

    scheme = _scheme(url)
    last: BaseException | None = None
    for attempt in range(4):  # processes that create the tables of a new database at once may collide
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=callback,
                )
        except ImportError:  # Optuna re-raises the driver's ModuleNotFoundError as ImportError
            driver = _DRIVERS.get(scheme)
            fix = f"pip install {driver} and write {scheme}+{driver.split('-')[0]}://" if driver else "install its driver"
            raise ConfigError(f"{key}={shown}: the Python driver for {scheme} is not installed — {fix}") from None
        except Exception as error:  # noqa: BLE001 - every failure here is reported as a storage problem
            name = type(error).__name__
            if name == "NoSuchModuleError" or "Can't load plugin" in str(error):
                raise ConfigError(f"{key}={shown}: unknown database kind '{scheme}' — use {URL_FORMS}") from None
            if name in ("ArgumentError",) or isinstance(error, ValueError):
                raise ConfigError(f"{key}={shown}: {_first_line(error)} — use {URL_FORMS}") from None
            if name == "OperationalError" and _unreachable(error):
                raise ConfigError(
                    f"{key}={shown}: cannot connect ({_first_line(error)}) — start the database server, or fix the "
                    f"host, port, user, password or database name in the URL"
                ) from None
            last = error
            time.sleep(0.2 + 0.3 * attempt + (os.getpid() % 7) * 0.05)
    assert last is not None
    raise ConfigError(
        f"{key}={shown}: cannot open the study storage ({type(last).__name__}: {_first_line(last)}) — use {URL_FORMS}"
    ) from None


def _unreachable(error: BaseException) -> bool:
    text = str(error).lower()
    return any(
        s in text
        for s in (
            "connection refused", "could not connect", "could not translate host", "timeout expired",
            "does not exist", "authentication failed", "unable to open database", "can't connect",
            "unknown database", "access denied", "name or service not known", "no route to host",
            "password",
        )
    )


_shared: dict[str, BaseStorage] = {}


def share_storage(url: str, storage: BaseStorage) -> None:
    """Let runs of this process that name `url` use `storage` (the sweeper's own connection)."""
    _shared[normalize_url(url)] = storage


def shared_storage(url: str) -> BaseStorage:
    """The storage this process already opened for `url`, else a new one (kept for the next call).

    A cache of connections, not a channel between sweeper and run: a run in another process (a
    SLURM job) opens its own from the same URL and behaves the same, only ~10 ms slower.
    """
    key = normalize_url(url)
    if key not in _shared:
        _shared[key] = open_storage(key)
    return _shared[key]


def refresh(storage: Any) -> None:
    if isinstance(storage, WorkerStorage):
        storage.refresh()


def close_connections(storage: Any) -> None:
    """Drop pooled database connections (before fork: children open their own)."""
    backend = getattr(storage, "_backend", None)
    engine = getattr(backend, "engine", None)
    if engine is not None:
        engine.dispose()
