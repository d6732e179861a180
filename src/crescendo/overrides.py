"""The command line before Hydra parses it: a syntax check that names the key, and spelling fixes.

Hydra's own parse error ("no viable alternative at input 'interval(0.001'") names neither the key
nor the fix, so `cr` parses each override first with Hydra's parser and reports the first it cannot
read. Users also copy commands that append keys the packaged config already declares
(`+data.data_dir=DIR`); Hydra would refuse to append an existing key, so those few keys are
rewritten to `++` (add or override), which accepts both spellings. The packaged config declares only a
few of the Trainer's and the optimizer's keywords; any other keyword of their signatures
(`trainer.precision=bf16-mixed`, `model.optimizer.weight_decay=0.01`) is rewritten to `++` too, so it
needs no `+` (crescendo.keywords holds the names; a name outside them stays Hydra's unknown key).
"""

from __future__ import annotations

import functools
import re
from typing import Sequence

from crescendo.errors import ConfigError

#: the search syntax, for messages (the sweeper reads it: hydra_plugins.crescendo_sweeper._grammar)
EXAMPLES = (
    "key=choice(a, b), key=interval(0.001, 0.1), key=tag(log, interval(1e-5, 1e-2)), key=range(1, 10, 2)"
)

# keys declared in the packaged configs that users habitually pass with a leading '+'
APPENDABLE_KEYS: tuple[str, ...] = ("data.data_dir", "ckpt_path", "compile", "tags", "extras.print_config",
                                   "extras.enforce_tags", "extras.ignore_warnings")


#: the original Crescendo 0.0.4's keys, not declared in the packaged config (so that the config stays what
#: Hydra's own `instantiate` can build), written with or without '+': `data.dataloader_kwargs.<key>` (our
#: `data.batch_size` etc. follow it, see crescendo.data.dataloader_kwargs) and the model keys that
#: crescendo.models.legacy_keys strips before the model is built
ADDED_KEY_PREFIXES: tuple[str, ...] = ("data.dataloader_kwargs", "model.input_dims", "model.output_dims",
                                       "model.print_every", "model.lr_scheduler_kwargs")


def normalize_overrides(arguments: list[str], optimizer_target: str | None = None) -> list[str]:
    """Turn `+key=value` into `++key=value` for the keys in APPENDABLE_KEYS, `[+]key=value` into
    `++key=value` for 0.0.4's keys (ADDED_KEY_PREFIXES), and `key=value` into `++key=value` for a keyword
    of Lightning's Trainer (`trainer.K`) or of the optimizer (`model.optimizer.K`: the one the arguments
    name in `model.optimizer._target_`, else `optimizer_target`, else any torch.optim optimizer's);
    leave the rest alone."""
    keywords = _signature_keywords(arguments, optimizer_target)
    normalized = []
    for argument in arguments:
        key = argument[1:].split("=", 1)[0]
        if argument.startswith("+") and not argument.startswith("++") and key in APPENDABLE_KEYS:
            argument = "+" + argument
        elif "=" in argument and _is_added_key(argument.split("=", 1)[0].lstrip("+")) \
                and not argument.startswith("++"):
            argument = "++" + argument.lstrip("+")
        elif "=" in argument and argument[:1] not in "+~-" and argument.split("=", 1)[0] in keywords:
            argument = "++" + argument
        normalized.append(argument)
    return normalized


class _SignatureKeys:
    """`key in keys`: whether `key` is trainer.<a Trainer keyword> or model.optimizer.<an optimizer keyword>."""

    def __init__(self, optimizer_targets: list[str]) -> None:
        self.optimizer_targets = optimizer_targets
        self._optimizer: frozenset[str] | None = None  # looked up on the first model.optimizer.* key

    def __contains__(self, key: str) -> bool:
        from crescendo.keywords import TRAINER_KEYWORDS, optimizer_keywords

        if key in _declared_keys():  # Hydra overrides it as written (and messages show it so)
            return False
        parent, _, name = key.rpartition(".")
        if parent == "trainer":
            return name in TRAINER_KEYWORDS
        if parent != "model.optimizer" or name.startswith("_"):
            return False
        if self._optimizer is None:
            targets = self.optimizer_targets or [None]
            self._optimizer = frozenset().union(*(optimizer_keywords(t) for t in targets))
        return name in self._optimizer


@functools.cache
def _declared_keys() -> frozenset[str]:
    """The trainer.* and model.optimizer.* keys the packaged defaults declare (trainer=default, model=mlp)."""
    from importlib.resources import files

    import yaml

    conf = files("crescendo.conf")
    trainer = yaml.safe_load(conf.joinpath("trainer/default.yaml").read_text()) or {}
    optimizer = (yaml.safe_load(conf.joinpath("model/mlp.yaml").read_text()) or {}).get("optimizer") or {}
    return frozenset([f"trainer.{k}" for k in trainer] + [f"model.optimizer.{k}" for k in optimizer])


def _signature_keywords(arguments: Sequence[str], optimizer_target: str | None) -> _SignatureKeys:
    return _SignatureKeys(optimizer_targets(arguments, optimizer_target))


def optimizer_targets(arguments: Sequence[str], optimizer_target: str | None = None) -> list[str]:
    """The optimizer(s) the arguments choose (the last `model.optimizer._target_`, each option of a
    choice(...)), else `optimizer_target` (the config's, when the caller knows it); [] if neither."""
    targets: list[str] = [optimizer_target] if optimizer_target else []
    for argument in arguments:
        key, _, value = argument.partition("=")
        if key.lstrip("+") == "model.optimizer._target_":
            value = value.strip()
            inner = re.fullmatch(r"choice\((.*)\)", value)
            options = inner.group(1).split(",") if inner else [value]
            targets = [option.strip().strip("'\"") for option in options if option.strip()]
    return targets


def _is_added_key(key: str) -> bool:
    return any(key == prefix or key.startswith(prefix + ".") for prefix in ADDED_KEY_PREFIXES)


def check_override_syntax(arguments: Sequence[str]) -> None:
    """Raise ConfigError naming the first override Hydra's grammar cannot parse (flags are skipped)."""
    parser = None
    for text in arguments:
        if text.startswith("-") or "=" not in text:
            continue
        if not text.split("=", 1)[0].lstrip("+~"):
            raise ConfigError(f"'{text}': no key before '=' — write key=value")
        if parser is None:
            from hydra.core.override_parser.overrides_parser import OverridesParser

            parser = OverridesParser.create()
        try:
            parser.parse_override(text)
        except Exception as error:
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            key = text.split("=", 1)[0].lstrip("+~")
            raise ConfigError(f"{key}: cannot parse '{text}': {detail} — {syntax_hint(text, detail)}") from None


def syntax_hint(text: str, detail: str) -> str:
    """The fix for an override Hydra's grammar rejects, by what its value looks like."""
    key, _, value = text.partition("=")
    key = key.lstrip("+~")
    if re.match(r"\s*(choice|interval|range|tag|glob)\s*\(", value):
        return f"write e.g. {EXAMPLES}"
    if value.count("'") % 2 or value.count('"') % 2:
        return f"close the quote, e.g. {key}='a b'"
    if not value.isascii() or "token recognition error" in detail:
        # Hydra's grammar reads only ASCII letters, digits and a few symbols unquoted (a shell passes
        # /tmp/dätä as it is: Python decodes the arguments as UTF-8, even under LC_ALL=C)
        return f"quote the value, in the shell: '{text.split('=', 1)[0]}=\"{value}\"'"
    if value.lstrip()[:1] in "[{" or value.count("(") != value.count(")"):
        return f"balance the brackets, e.g. {key}=[64,32] or {key}={{a: 1}}"
    return f"quote the value if it holds spaces or symbols: '{key}=\"{value}\"'"
