"""Every value a trial can take, checked before the first trial by crescendo's own checking stage.

The search's composed config (its non-searched keys) is checked once, with each searched key at its
first value; then each other value of each searched key — every `choice`, both ends of an `interval`
or `range` (on a log scale too) — is substituted into that config alone and checked by the same rules
(`crescendo.checks.problems`) a single run uses. Every problem found is reported at once, in one
`ConfigError`: a searched value's problem names the search as written,
`data.batch_size=choice(0, 32): the value 0 must be an int ≥ 1 — …`.
Config-group sweeps (`data=choice(regression, diabetes)`) are checked by the space against the group's
options instead: their values are whole configs, composed per trial.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from crescendo.checks import Problem, plain, problems, show
from crescendo.errors import ConfigError
from hydra_plugins.crescendo_sweeper._grammar import SearchParam, make_parser
from hydra_plugins.crescendo_sweeper._space import SearchSpace


def check_trial_values(space: SearchSpace, cfg: DictConfig) -> None:
    """Raise one ConfigError naming every bad value of the search (see the module doc)."""
    # the search's own settings (hydra.*) are the plan's to check, not a run's keys: left out
    base = plain(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]))
    values = {p.name: _values(p) for p in space.params}
    values = {name: options for name, options in values.items() if not _is_group(name, options, cfg)}
    params = {p.name: p for p in space.params if p.name in values}
    followers = _followers(cfg)
    for name, options in values.items():
        _set(base, name, options[0], followers)

    # message → (searched key or None, problem, the value of the searched key that caused it)
    found: dict[str, tuple[str | None, Problem, Any]] = {}
    for problem in problems(base):
        name = problem.key if problem.key in params else None
        found.setdefault(str(problem), (name, problem, problem.value))
    for name, options in values.items():
        for value in options[1:]:  # one key at a time, the others at their first value
            _set(base, name, value, followers)
            for problem in problems(base):
                found.setdefault(str(problem), (name, problem, value))
        _set(base, name, options[0], followers)
    if found:
        raise ConfigError("; ".join(_report(found, params)))


def _report(found: dict[str, tuple[str | None, Problem, Any]], params: dict[str, SearchParam]) -> list[str]:
    """One part per (searched key, problem kind): the bad values of one key are named together."""
    parts: dict[tuple, list[Any]] = {}
    for text, (name, problem, value) in found.items():
        if name is None:
            parts.setdefault((text,), [])
        elif problem.key == name:
            parts.setdefault((name, problem.what, problem.fix), []).append(problem.value)
        else:  # another key went wrong with this value: min_epochs against a searched max_epochs
            parts.setdefault((f"{params[name].key_element}={params[name].spec}: with {name}={show(value)}, {text}",), [])
    lines = []
    for part, bad in parts.items():
        if len(part) == 1:
            lines.append(part[0])
            continue
        name, what, fix = part
        shown = list(dict.fromkeys(map(show, bad)))
        noun = "the value" if len(shown) == 1 else "the values"
        values = ", ".join(shown)
        lines.append(f"{params[name].key_element}={params[name].spec}: {noun} {values} {what} — {fix}")
    return lines


def _values(param: SearchParam) -> list[Any]:
    """The values a trial can give the key, as Hydra reads them from the trial's override: each choice
    (a list or mapping written in a choice is parsed back from its text), or both ends of a range."""
    if not param.choice_texts:
        return [param.distribution.low, param.distribution.high]
    parser = make_parser()
    return [parser.parse_rule(text, "value") if isinstance(choice, str) and text[:1] in "[{" else choice
            for choice, text in param.choice_texts]


def _is_group(name: str, options: list[Any], cfg: DictConfig) -> bool:
    """A config-group sweep (names of group options where the config holds a node) or a package-placed
    key: not a value to substitute."""
    if "@" in name:
        return True
    node = OmegaConf.select(cfg, name, default=None, throw_on_resolution_failure=False)
    return OmegaConf.is_dict(node) and all(isinstance(option, str) for option in options)


def _followers(cfg: DictConfig) -> dict[str, str]:
    """Original-Crescendo spelling → our key, where our key still follows it in `cfg` (an interpolation,
    not set by the user): a trial's value then reaches both, as it does in the trial's own config."""
    from crescendo.data.dataloader_kwargs import SPELLINGS

    followers = {}
    for theirs, ours in SPELLINGS.items():
        parent, _, leaf = ours.rpartition(".")
        node = OmegaConf.select(cfg, parent, default=None, throw_on_resolution_failure=False)
        if OmegaConf.is_dict(node) and leaf in node and OmegaConf.is_interpolation(node, leaf):
            followers[theirs] = ours
    return followers


def _set(cfg: dict, key: str, value: Any, followers: dict[str, str] | None = None) -> None:
    if followers and key in followers:
        _set(cfg, followers[key], value)
    *parents, last = key.split(".")
    for part in parents:
        cfg = cfg.setdefault(part, {})
    cfg[last] = value
