"""The loggers (`logger.*`): each configured logger's packages are installed, before anything runs.

Lightning's loggers import their service's package only when they are built, after the data is read:
a missing one (`pip install` forgotten) stopped the run there, or every trial of a search. Here each
`_target_` is matched to the packages its class needs and looked up with `importlib.util.find_spec`
(nothing is imported: torch-free, microseconds), so `logger=comet` without comet_ml is one line,
`logger=comet: needs the comet_ml package — pip install 'crescendo[comet]'`, in runs and searches.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from crescendo.checks._problem import ABSENT, Problem, read

#: a logger class → (the modules it can work with, any one of them; the crescendo extra that installs it).
#: Lightning's own classes (lightning.pytorch.loggers, pytorch_lightning.loggers) and aim's AimLogger.
NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "MLFlowLogger": (("mlflow",), "mlflow"),
    "TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),  # Lightning takes either
    "WandbLogger": (("wandb",), "wandb"),
    "CometLogger": (("comet_ml",), "comet"),
    "AimLogger": (("aim",), "aim"),
}
#: the packages whose logger classes NEEDS describes
_KNOWN_HOMES = ("lightning", "pytorch_lightning", "aim")
#: the logger groups of conf/logger/: their entry is named after the group, so `logger=<name>` names it
GROUPS = ("csv", "mlflow", "tensorboard", "wandb", "aim", "comet", "neptune")
_INSTEAD = "log with logger=wandb, logger=mlflow or logger=tensorboard instead"


def logger_problems(cfg: Any) -> list[Problem]:
    loggers = read(cfg, "logger", resolve=False)  # paths name Hydra's run-time dirs: only _target_ is read
    if not isinstance(loggers, dict):
        return []
    found: list[Problem] = []
    for name, entry in loggers.items():
        if isinstance(entry, dict) and isinstance(entry.get("_target_"), str):
            found += _entry_problems(str(name), entry)
    return found


def _entry_problems(name: str, entry: dict) -> list[Problem]:
    target = entry["_target_"]
    key, value = ("logger", name) if name in GROUPS else (f"logger.{name}._target_", target)
    home, _, class_name = target.rpartition(".")
    top = home.split(".", 1)[0]
    if top in _KNOWN_HOMES and class_name == "NeptuneLogger":
        return [Problem(key, value, "Neptune's service has shut down (2026) and Lightning's NeptuneLogger is now a "
                        "stub that refuses to start", _INSTEAD)]
    if top in _KNOWN_HOMES and class_name in NEEDS:
        modules, extra = NEEDS[class_name]
        if not any(installed(module) for module in modules):
            alternatives = "".join(f" (or {module})" for module in modules[1:])
            return [Problem(key, value, f"needs the {modules[0]} package{alternatives}",
                            f"pip install 'crescendo[{extra}]'")]
        if class_name == "WandbLogger":
            return _wandb_problems(name, entry)
        return []
    return _home_problem(key, value, top)


def _home_problem(key: str, value: Any, top: str) -> list[Problem]:
    """The package the `_target_` lives in must be installed (aim's AimLogger lives in aim itself)."""
    if not top or installed(top):
        return []
    return [Problem(key, value, f"names a class in {top}, which is not installed",
                    f"install the package that provides {top}, or fix the _target_")]


def _wandb_problems(name: str, entry: dict) -> list[Problem]:
    """WandbLogger refuses to upload checkpoints offline; said here, before the data is read."""
    offline, log_model = entry.get("offline", False), entry.get("log_model", False)
    if offline is True and log_model not in (False, None, ABSENT):
        return [Problem(f"logger.{name}.log_model", log_model, f"cannot upload checkpoints offline (logger.{name}."
                        "offline=true)", f"set logger.{name}.log_model=false, or logger.{name}.offline=false")]
    return []


def installed(module: str) -> bool:
    """Whether `module` (a top-level name) can be imported here, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a malformed name, or a parent that fails to import
        return False
