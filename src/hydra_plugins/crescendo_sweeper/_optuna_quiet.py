"""Optuna's messages a `cr` user has no use for: the sweeper prints its own line per trial."""

from __future__ import annotations

import warnings


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"optuna(\.|$)")
    # ask/tell with heartbeats: the sweeper runs the heartbeat thread itself (see _ledger.Ledger.ask)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
