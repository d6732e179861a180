"""Hydra's own failures (an unknown key, a missing group option, a value of the wrong type, an
override it cannot parse) as one `ConfigError` that names the key and the fix.

Hydra reports these as several lines of its own and exit status 1. `cr` lets Hydra's exceptions reach
its entry point (HYDRA_FULL_ERROR) and asks `explain` for the user's version; anything `explain`
does not recognise stays a bug with its traceback. The closest existing key is found by composing
the config again with Hydra's compose API — only on this error path, so a good command pays nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from crescendo.errors import ConfigError, CrescendoError

_CONFIG_MODULE = "crescendo.conf"
_CONFIG_NAME = "train"
_TYPE_NAMES = {"Integer": "a whole number", "Float": "a number", "Boolean": "true or false", "bool": "true or false",
               "String": "a string", "string": "a string"}


def explain(error: BaseException, arguments: Sequence[str]) -> CrescendoError | None:
    """The user's error behind `error` (raised while Hydra composed `arguments`), or None for a bug."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    if isinstance(error, CrescendoError):
        return error
    if isinstance(error, OverrideParseException):
        return _unparsable(str(error))
    if isinstance(error, MissingConfigException):
        return _missing_option(error)
    if isinstance(error, ConfigCompositionException):
        text = str(error).strip()
        cause = error.__cause__
        if "requires --multirun" in text:
            return _sweep_without_search(text, arguments)
        if text.startswith("Could not override") and isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            return _unknown_key(text, arguments)
        if isinstance(cause, ValidationError):
            return _wrong_type(text, cause)
        if text.startswith("Could not append to config"):
            item = re.search(r"already at '([^']+)'", text)
            key = item.group(1) if item else "?"
            return ConfigError(f"{key}: is already in the config — drop the + to change it ({key}=VALUE)")
        return ConfigError(f"{_one_line(text)} — check the command line (cr --cfg job shows the config)")
    # an omegaconf error raised outside composition is our own code's: a bug, with its traceback
    if any(isinstance(e, OSError) for e in _chain(error)):
        # Hydra could not make or write the output dir (its mkdir; its log file handler, which logging
        # reports as a ValueError): CheckOutputDirs found why first
        from crescendo.outputs import CheckOutputDirs

        return CheckOutputDirs.found
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """The error and the ones it was raised from or during."""
    chain = [error]
    while (error := error.__cause__ or error.__context__) is not None and error not in chain:
        chain.append(error)
    return chain


# ----------------------------------------------------------------------------- the kinds of error


def _unparsable(text: str) -> ConfigError:
    """Hydra's parse error: 'Error parsing override 'X'\\n<why>\\nSee <url>'."""
    from crescendo.overrides import syntax_hint

    lines = text.splitlines()
    override = _quoted(lines[0], default=lines[0])
    detail = lines[1].strip() if len(lines) > 1 else "cannot be parsed"
    key = override.split("=", 1)[0].lstrip("+~") or override
    if "=" not in override:
        return ConfigError(f"{key}: '{override}' has no value — write {key}=VALUE")
    return ConfigError(f"{key}: cannot parse '{override}': {detail} — {syntax_hint(override, detail)}")


def _missing_option(error: Any) -> ConfigError:
    missing = str(getattr(error, "missing_cfg_file", "") or "")
    options = list(getattr(error, "options", None) or [])
    group, _, option = missing.rpartition("/")
    if not group or not options:
        return ConfigError(f"{missing or _one_line(str(error))}: no such config — check the command line")
    # an option the name begins (debug=fast → fast_dev_run) before difflib's closest spelling
    closest = [o for o in options if option and o.startswith(option)][:1] or \
        difflib.get_close_matches(option, options, n=1, cutoff=0.5)
    hint = f" (closest: {group}={closest[0]})" if closest else ""
    return ConfigError(f"{group}={option}: no such option — choose one of {', '.join(options)}{hint}")


def _unknown_key(text: str, arguments: Sequence[str]) -> ConfigError:
    key = _quoted(text, default="?")
    override = next((a for a in arguments if a.lstrip("+~").split("=", 1)[0] == key), f"{key}=VALUE")
    keys = _config_keys([a for a in arguments if a != override])
    if key.startswith("hydra.sweeper.") and not any(k.startswith("hydra.sweeper.n_trials") for k in keys):
        return ConfigError(f"{key}: the search's settings exist only in a search — add hparams_search=optuna")
    # the closest name among the same parent's keys (a shared prefix would make any key look close)
    parent, _, name = key.rpartition(".")
    other_optimizers = _optimizer_keyword_elsewhere(key, arguments)
    if other_optimizers is not None:
        return other_optimizers
    siblings = sorted({k[len(parent) + 1:].split(".")[0] for k in keys if k.startswith(parent + ".")}
                      | _signature_names(parent, keys)) if parent else sorted({k.split(".")[0] for k in keys})
    close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
    if close:
        guess = f"did you mean {parent + '.' if parent else ''}{close[0]}?"
    elif parent and siblings:
        guess = f"{parent}'s keys are {', '.join(siblings)}"
    elif parent:
        guess = f"{parent} is not a key either"
    else:
        guess = "no key is close"
    return ConfigError(f"{key}: not a key of the config — {guess} (to add a new key write +{override.lstrip('+~')})")


def _wrong_type(text: str, cause: BaseException) -> ConfigError:
    key = str(getattr(cause, "full_key", "") or text.rsplit(" ", 1)[-1].split("=", 1)[0])
    override = text[len("Error merging override "):] if text.startswith("Error merging override ") else key
    reason = str(getattr(cause, "msg", "") or cause).splitlines()[0].strip()
    expected = _declared_type(cause, key)
    if expected is None:
        wanted = re.search(r"(?:converted to|convert '\w+' to|valid) (\w+)", reason)
        expected = _TYPE_NAMES.get(wanted.group(1), wanted.group(1)) if wanted else "another type"
    return ConfigError(f"{override}: {key} takes {expected} ({reason}) — give it {expected}")


def _declared_type(cause: BaseException, key: str) -> str | None:
    """What the structured config (a dataclass) declares for the key, in words."""
    import dataclasses
    import typing

    owner = getattr(cause, "object_type", None)
    if not dataclasses.is_dataclass(owner):
        return None
    try:
        declared = typing.get_type_hints(owner).get(key.rpartition(".")[2])
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: say it from the message
        return None
    optional = typing.get_origin(declared) is typing.Union and type(None) in typing.get_args(declared)
    if optional:
        declared = next(a for a in typing.get_args(declared) if a is not type(None))
    base = typing.get_origin(declared) or declared
    words = {int: "a whole number", float: "a number", bool: "true or false", str: "a string", list: "a list",
             dict: "a mapping"}.get(base)  # type: ignore[call-overload]
    if words is None:
        return None
    return f"{words} or null" if optional else words


def _sweep_without_search(text: str, arguments: Sequence[str]) -> CrescendoError:
    """Hydra reports 'Sweep parameters ... requires --multirun' when the config failed to compose in
    search mode for another reason (it then falls back to a single run): find that reason."""
    plain = [a for a in _overrides(arguments) if not _is_sweep(a)]
    try:
        _compose(plain)
    except Exception as error:  # noqa: BLE001 - the real reason, found without the search ranges
        found = explain(error, plain)
        if found is not None:
            return found
    override = _quoted(text, default="")
    key = override.split("=", 1)[0]
    return ConfigError(f"{override}: a search range needs a search — add hparams_search=optuna, or give {key} one value")


# ----------------------------------------------------------------------------- helpers


def _optimizer_keyword_elsewhere(key: str, arguments: Sequence[str]) -> ConfigError | None:
    """`model.optimizer._target_=torch.optim.SGD model.optimizer.betas=…`: Adam's keyword, not SGD's."""
    from crescendo.keywords import (
        ANY_OPTIMIZER_KEYWORDS,
        keyword_problem,
        optimizer_keywords,
    )
    from crescendo.overrides import optimizer_targets

    parent, _, name = key.rpartition(".")
    targets = optimizer_targets(arguments)
    if parent != "model.optimizer" or not targets or name not in ANY_OPTIMIZER_KEYWORDS:
        return None
    what, fix = keyword_problem(name, " or ".join(targets), frozenset().union(*map(optimizer_keywords, targets)))
    return ConfigError(f"{key}: {what} — {fix}")


def _signature_names(parent: str, keys: Sequence[str]) -> set[str]:
    """The keywords `cr` accepts under trainer.* and model.optimizer.* without being in the config."""
    from crescendo.keywords import TRAINER_KEYWORDS, optimizer_keywords

    if parent == "trainer" and "trainer._target_" in keys:
        return set(TRAINER_KEYWORDS)
    if parent == "model.optimizer":
        return set(optimizer_keywords(None))
    return set()


def _compose(arguments: Sequence[str]) -> Any:
    """The composed config (Hydra's keys included) for these overrides, through Hydra's compose API."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # the failed @hydra.main left its state behind
    with initialize_config_module(config_module=_CONFIG_MODULE, version_base="1.3"):
        return compose(_CONFIG_NAME, overrides=list(arguments), return_hydra_config=True)


def _config_keys(arguments: Sequence[str]) -> list[str]:
    """Every dotted key of the config composed from the other overrides (empty if that fails too)."""
    from omegaconf import OmegaConf

    try:
        cfg = _compose([a for a in _overrides(arguments) if not _is_sweep(a)])
    except Exception:  # noqa: BLE001 - no suggestion then; the error itself is still reported
        return []
    keys: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                keys.append(prefix + str(name))
                walk(value, f"{prefix}{name}.")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return keys


def _overrides(arguments: Sequence[str]) -> list[str]:
    """The overrides among `cr`'s arguments: not Hydra's flags (-m, --cfg job, --info config ...)."""
    return [a for a in arguments if not a.startswith("-") and ("=" in a or a.startswith("~"))]


def _is_sweep(argument: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_override(argument).is_sweep_override()
    except Exception:  # noqa: BLE001 - unparsable: not a search range
        return False


def _quoted(text: str, default: str) -> str:
    """The first '...' in text."""
    found = re.search(r"'([^']*)'", text)
    return found.group(1) if found else default


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
