"""The search space a study was made for, and what a resume must share with it.

A study remembers its space in the study user attr `search_space` ({key: Optuna's
`distribution_to_json`}), written once the study is opened for a search whose space it accepts.
Optuna itself only refuses a key whose *kind* changed (its `check_distribution_compatibility`), so
without this record a moved range or another set of keys would silently mix two spaces into one
study and one "best". A study from before the record (no attr) is compared with its trials'
distributions.

A resume whose space differs is refused, naming every difference, before any trial runs and
without writing to the study. `hydra.sweeper.extend_space=true` accepts added or removed keys and
moved ranges or steps on purpose (then the new space is recorded); a changed kind, log scale or
choice list stays refused: Optuna cannot store such values beside the earlier ones.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from crescendo.errors import ConfigError
from crescendo.search.storage import hide_password
from hydra_plugins.crescendo_sweeper._space import describe

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

#: study user attr: the searched keys and their distributions, as JSON per key
SPACE_ATTR = "search_space"


def record_space(study: "optuna.Study", distributions: Mapping[str, "BaseDistribution"]) -> None:
    """Write the space into the study (its own metadata is left as Optuna keeps it)."""
    from optuna.distributions import distribution_to_json

    study.set_user_attr(SPACE_ATTR, {name: distribution_to_json(d) for name, d in distributions.items()})


def recorded_space(study: "optuna.Study") -> dict[str, "BaseDistribution"] | None:
    """The space the study recorded; for an older study without the record, the distributions its
    trials used (the latest per key); None for a study with neither (nothing to compare)."""
    from optuna.distributions import json_to_distribution

    stored = study.user_attrs.get(SPACE_ATTR)
    if isinstance(stored, Mapping):
        return {str(name): json_to_distribution(text if isinstance(text, str) else json.dumps(text))
                for name, text in stored.items()}
    space: dict[str, BaseDistribution] = {}
    for trial in study.get_trials(deepcopy=False):
        space.update(trial.distributions)
    return space or None


def _ends(d: Any) -> str:
    return f"[{d.low}, {d.high}]"


def _choices(d: Any) -> str:
    return describe(d)[len("choice("):-1]


def differences(old: Mapping[str, "BaseDistribution"], new: Mapping[str, "BaseDistribution"]
                ) -> list[tuple[str, bool]]:
    """Each difference as (text, Optuna can mix it into the same study), keys in the new space's order
    first, then the removed ones."""
    from optuna.distributions import CategoricalDistribution

    found: list[tuple[str, bool]] = []
    for name, d in new.items():
        if name not in old:
            found.append((f"{name}: added ({describe(d)})", True))
            continue
        o = old[name]
        if o == d:
            continue
        if type(o) is not type(d):
            found.append((f"{name}: {describe(o)} → {describe(d)}", False))
        elif isinstance(d, CategoricalDistribution):
            found.append((f"{name}: choices {_choices(o)} → {_choices(d)}", False))
        else:
            parts: list[tuple[str, bool]] = []
            if o.log != d.log:
                parts.append((f"log scale {'on' if o.log else 'off'} → {'on' if d.log else 'off'}", False))
            if (o.low, o.high) != (d.low, d.high):
                parts.append((f"range {_ends(o)} → {_ends(d)}", True))
            if o.step != d.step:
                parts.append((f"step {o.step} → {d.step}", True))
            found.append((f"{name}: " + ", ".join(text for text, _ in parts), all(ok for _, ok in parts)))
    found.extend((f"{name}: removed (was {describe(o)})", True) for name, o in old.items() if name not in new)
    return found


def check_resume(study: "optuna.Study", new: Mapping[str, "BaseDistribution"], *, study_name: str,
                 storage_url: str, extend: bool) -> bool:
    """Raise ConfigError when the study searched another space (see the module doc); returns whether
    the space should be (re)recorded: a new study, an older one without the record, or an extension."""
    old = recorded_space(study)
    if old is None:
        return True
    found = differences(old, dict(new))
    recorded = SPACE_ATTR in study.user_attrs
    if not found:
        return not recorded
    where = f"hydra.sweeper.study_name={study_name}: the study in {hide_password(storage_url)}"
    listed = "; ".join(text for text, _ in found)
    if not all(mixable for _, mixable in found):
        raise ConfigError(
            f"{where} searched another space — {listed} — Optuna keeps a key's kind, log scale and choices for "
            "a whole study: use another hydra.sweeper.study_name (or storage) for this search")
    if extend:
        return True
    raise ConfigError(
        f"{where} searched another space — {listed} — search the same keys and ranges to resume it, use "
        "another hydra.sweeper.study_name (or storage) for a new search, or hydra.sweeper.extend_space=true "
        "to extend this study on purpose")
