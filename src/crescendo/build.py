"""A run's objects from its composed config: Hydra's instantiate, at the least cost.

OmegaConf resolves an interpolation each time its node is read (an ANTLR parse per ``${...}``), and
Hydra's instantiate deep-copies the node, merges the keyword arguments into it and resolves it again:
on a small search trial that was ~40 ms of set-up. So the config is resolved once (`resolve_once`),
and arguments known only at run time (widths from the data, the effective monitor, the callbacks)
are handed to the partial Hydra builds for the node (``_partial_: true``) instead of being merged
into it. The objects are exactly those ``hydra.utils.instantiate(node, **kwargs)`` builds; on any
error the plain call runs, so messages stay Hydra's.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_class
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from crescendo.errors import ConfigError, CrescendoError

__all__ = ["build", "build_callbacks", "build_loggers", "copy_config", "instantiate", "resolve_once"]


def resolve_once(cfg: DictConfig) -> DictConfig:
    """A copy of `cfg` with every interpolation resolved (the caller's config is left as it is).

    Falls back to an unresolved copy when resolving in place would change a value: a resolved string
    that still reads as an interpolation (an escaped ``\\${...}``) would be resolved again later.
    """
    resolved = copy_config(cfg)
    try:
        OmegaConf.resolve(resolved)
    except Exception:  # noqa: BLE001 - the config's own errors surface where it is used, as before
        return copy_config(cfg)
    if any("${" in value for value in _strings(OmegaConf.to_container(resolved, resolve=False))):
        return copy_config(cfg)
    return resolved


def copy_config(cfg: DictConfig) -> DictConfig:
    """A deep copy; a pickle round trip costs a third of `copy.deepcopy` on a run's config (~3 ms
    against ~9 ms), paid per run and per search job. Deepcopy where pickling fails (a node holding a
    live object)."""
    try:
        return pickle.loads(pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - e.g. an unpicklable object in an allow_objects node
        return copy.deepcopy(cfg)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def instantiate(node: Any, **kwargs: Any) -> Any:
    """Hydra's instantiate, with config mistakes turned into one-line user errors.

    Hydra wraps whatever a constructor raises; our own user errors are unwrapped, and a target that
    cannot be found or called with those keys is reported as the config error it is.
    """
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, CrescendoError):
            raise error.__cause__ from None
        message = " ".join(str(error).replace("set env var HYDRA_FULL_ERROR=1 to see chained exception.", "").split())
        raise ConfigError(f"{message} — check the key's _target_ and arguments (cr --cfg job shows the config)") from None


def build(node: DictConfig, **kwargs: Any) -> Any:
    """``instantiate(node, **kwargs)``, without merging `kwargs` into a copy of the node."""
    if not kwargs or not isinstance(node, DictConfig) or "_partial_" in node or OmegaConf.is_readonly(node):
        return instantiate(node, **kwargs)
    settings = {key: kwargs.pop(key) for key in ("_convert_", "_recursive_") if key in kwargs}
    try:
        with _temporarily(node, {**settings, "_partial_": True}):
            factory = hydra_instantiate(node)
        return factory(**kwargs)
    except CrescendoError:
        raise
    except Exception:  # noqa: BLE001 - e.g. an unknown key: the plain call reports it as Hydra does
        return instantiate(node, **settings, **kwargs)


@contextmanager
def _temporarily(node: DictConfig, values: dict[str, Any]) -> Iterator[None]:
    """Set keys of `node` for the duration, then restore them (or their absence)."""
    missing = object()
    before = {key: node[key] if key in node else missing for key in values}
    with open_dict(node):
        try:
            for key, value in values.items():
                node[key] = value
            yield
        finally:
            for key, value in before.items():
                if value is missing:
                    del node[key]
                else:
                    node[key] = value


def build_callbacks(cfg: DictConfig, monitor: str, mode: str, show_progress: bool) -> list[Any]:
    """The configured callbacks (null entries dropped; a progress bar only when it shows).

    A callback with a ``monitor`` follows the effective one (production mode changes it), and its ``mode``.
    """
    from lightning.pytorch.callbacks import ProgressBar

    callbacks = []
    for node in (cfg.get("callbacks") or {}).values():
        if not node:
            continue
        if not show_progress and _is_subclass(node, ProgressBar):
            continue  # it would not show: not built at all
        watches_monitor = node.get("monitor") is not None
        kwargs = {key: value for key, value in (("monitor", monitor), ("mode", mode)) if watches_monitor and key in node}
        callback = build(node, **kwargs)
        if isinstance(callback, ProgressBar) and not show_progress:
            continue
        callbacks.append(callback)
    return callbacks


def build_loggers(cfg: DictConfig, tags: list[str] | None = None) -> list[Any]:
    """The configured loggers (null entries dropped); those that take tags get the run's `tags`
    unless their config sets its own (`crescendo.extras.logger_tags`)."""
    from crescendo.extras import logger_tags

    return [instantiate(node, **logger_tags(node, tags or [])) for node in (cfg.get("logger") or {}).values() if node]


def _is_subclass(node: DictConfig, parent: type) -> bool:
    try:
        target = get_class(str(node.get("_target_")))
    except Exception:  # noqa: BLE001 - a factory or a typo: built (and reported) as usual
        return False
    return isinstance(target, type) and issubclass(target, parent)
