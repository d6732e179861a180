"""The command line before Hydra parses it: a syntax check that names the key, and spelling fixes.

Hydra's own parse error ("no viable alternative at input 'interval(0.001'") names neither the key
nor the fix, so `cr` parses each override first with Hydra's parser and reports the first it cannot
read. Users also copy commands that append keys the packaged config already declares
(`+data.data_dir=DIR`); Hydra would refuse to append an existing key, so those few keys are
rewritten to `++` (add or override), which accepts both spellings.
"""

from __future__ import annotations

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


def normalize_overrides(arguments: list[str]) -> list[str]:
    """Turn `+key=value` into `++key=value` for the keys in APPENDABLE_KEYS, and `[+]key=value` into
    `++key=value` for 0.0.4's keys (ADDED_KEY_PREFIXES); leave the rest alone."""
    normalized = []
    for argument in arguments:
        key = argument[1:].split("=", 1)[0]
        if argument.startswith("+") and not argument.startswith("++") and key in APPENDABLE_KEYS:
            argument = "+" + argument
        elif "=" in argument and _is_added_key(argument.split("=", 1)[0].lstrip("+")) \
                and not argument.startswith("++"):
            argument = "++" + argument.lstrip("+")
        normalized.append(argument)
    return normalized


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
