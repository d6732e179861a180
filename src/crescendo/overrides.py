"""Command-line override fixes applied before Hydra parses them.

Users copy commands that append keys the packaged config already declares (`+data.data_dir=DIR`);
Hydra would refuse to append an existing key, so those few keys are rewritten to `++` (add or
override), which accepts both spellings.
"""

from __future__ import annotations

# keys declared in the packaged configs that users habitually pass with a leading '+'
APPENDABLE_KEYS: tuple[str, ...] = ("data.data_dir",)


def normalize_overrides(arguments: list[str]) -> list[str]:
    """Turn `+key=value` into `++key=value` for the keys in APPENDABLE_KEYS; leave the rest alone."""
    normalized = []
    for argument in arguments:
        key = argument[1:].split("=", 1)[0]
        if argument.startswith("+") and not argument.startswith("++") and key in APPENDABLE_KEYS:
            argument = "+" + argument
        normalized.append(argument)
    return normalized
