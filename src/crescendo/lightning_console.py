"""What Lightning prints during a run: its INFO lines once, its tips and known warnings not at all.

Every Lightning INFO line ("GPU available: False", "`Trainer.fit` stopped: …") used to appear twice
under `cr`: `import lightning` gives the `lightning` logger a console handler of its own and leaves it
propagating, so each record was printed by that handler and again by the handlers Hydra's job_logging
put on the root logger. Lightning's own rule for its sub-packages (lightning/pytorch/__init__.py:
"if root logger has handlers, propagate messages up and let root logger process them") is applied to
that handler too: when the root logger has handlers, the records go through them only — once on the
console, and into Hydra's run log file.
"""

from __future__ import annotations

import logging
import warnings

from crescendo._lightning_private import own_console_handler

_LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")


class _DropLightningTips(logging.Filter):
    """Lightning's "💡 Tip: … try installing …" lines advertise services; they are not about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def print_lightning_lines_once() -> None:
    """Drop Lightning's own console handler while the root logger has handlers (Hydra's job_logging, or
    the application's own set-up), so each line is printed once; records still propagate to them."""
    handler = own_console_handler()
    if handler is not None and logging.getLogger().hasHandlers():
        logging.getLogger("lightning").removeHandler(handler)


def quiet_lightning(quiet: bool) -> None:
    """Lightning's banners and tips are noise inside a search; keep warnings and errors."""
    print_lightning_lines_once()
    level = logging.WARNING if quiet else logging.INFO
    for name in _LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(level)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropLightningTips) for f in rank_zero.filters):
        rank_zero.addFilter(_DropLightningTips())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    # Lightning's warnings about choices crescendo makes on purpose: config.yaml is written into the
    # run dir before the CSV logger starts, losses are logged per epoch, and the module's batch
    # transfer is the fast one for its own loaders
    for message in (r"Experiment logs directory .* exists and is not empty",
                    r"The number of training batches \(\d+\) is smaller than the logging interval",
                    r"You have overridden `transfer_batch_to_device` in `LightningModule`"):
        warnings.filterwarnings("ignore", message=message)
    if quiet:
        warnings.filterwarnings("ignore", category=UserWarning, module=r"lightning(\.|$)")
