"""The two storage classes crescendo adds to Optuna's: a cached RDB storage that reads the study once
per trial (`WorkerStorage`), and a journal file storage with heartbeats (`HeartbeatJournalStorage`).
See `crescendo.search.storage` for why and how they are opened."""

from __future__ import annotations

import time
from typing import Callable

from optuna.storages import RDBStorage, _CachedStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend, JournalStorage

HEARTBEAT_ATTR = "crescendo:heartbeat"  # journal storage: unix time of the trial's last heartbeat


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


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """JournalStorage with heartbeats: the time of the last beat is a system attr of the trial."""

    def __init__(
        self,
        backend: JournalFileBackend,
        heartbeat_interval: int,
        grace_period: int | None,
        stale_trial_callback: Callable[..., None] | None,
    ) -> None:
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period or 2 * heartbeat_interval
        self._stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        import optuna

        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except (optuna.exceptions.UpdateFinishedTrialError, KeyError):
            pass  # the trial just finished (or was failed as stale by another worker)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        from optuna.trial import TrialState

        now = time.time()
        return [
            t._trial_id
            for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
            if HEARTBEAT_ATTR in t.system_attrs and now - float(t.system_attrs[HEARTBEAT_ATTR]) > self._grace_period
        ]

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[..., None] | None:
        return self._stale_trial_callback
