"""`model.*`: what crescendo's models (`MultilayerPerceptron`, `BatchedEnsemble`) and a torch optimizer
accept, checked on the config before anything is built.

The constructors keep their own checks (`crescendo.models.base.check_model_args`, the architecture's
`resolve_architecture`) for Python callers; the architecture rule is the same function here and there.
"""

from __future__ import annotations

from typing import Any

from crescendo.checks._problem import (
    ABSENT,
    Problem,
    flag,
    is_number,
    number,
    read,
    type_name,
    whole,
)
from crescendo.checks.run import MODEL_METRICS

#: `crescendo.models.architecture.ACCEPTED_FORMS` in one clause (a "; " would split the joined message)
_ARCHITECTURES = ("expected hidden widths [64, 32] (ints ≥ 1), an int N ≥ 0 (N layers ramping from the input "
                  "to the output width), or {neurons_range: [lo, hi], ramp_std: s} (s ≥ 0 neurons, with an optional "
                  "ramp_rel_std: r ≥ 0 relative to each width)")
_OPTIMIZER_EXAMPLE = "{_target_: torch.optim.Adam, _partial_: true, lr: 0.001}"
_NODES = {  # key: (example, may be null, must be a partial)
    "activation": ("{_target_: torch.nn.ReLU}", True, False),
    "last_activation": ("{_target_: torch.nn.Sigmoid}", True, False),
    "criterion": ("{_target_: torch.nn.MSELoss}", True, False),
    "optimizer": (_OPTIMIZER_EXAMPLE, True, True),
    "scheduler": ("{_target_: torch.optim.lr_scheduler.ReduceLROnPlateau, _partial_: true}", True, True),
}


def model_problems(cfg: Any) -> list[Problem]:
    target = str(read(cfg, "model._target_"))
    if target not in MODEL_METRICS:
        return []
    from crescendo.models.architecture import architecture_problem

    found: list[Problem] = []
    architecture = read(cfg, "model.architecture")
    why = None if architecture is ABSENT else architecture_problem(architecture)
    if why is not None:
        found.append(Problem("model.architecture", architecture, why, _ARCHITECTURES))
    found += number("model.dropout", read(cfg, "model.dropout"), "use e.g. model.dropout=0.1 (0 = none)",
                    at_least=0, below=1)
    for key in ("batch_norm", "last_batch_norm"):
        found += flag(f"model.{key}", read(cfg, f"model.{key}"), f"use model.{key}=true or false")
    if "BatchedEnsemble" in target:
        found += whole("model.n_members", read(cfg, "model.n_members"), 1, "set e.g. model.n_members=5")
    for key, (example, nullable, partial) in _NODES.items():
        found += _node(f"model.{key}", read(cfg, f"model.{key}"), example, nullable, partial)
    optimizer = read(cfg, "model.optimizer")
    if isinstance(optimizer, dict) and str(optimizer.get("_target_", "")).startswith("torch.optim."):
        found += optimizer_problems(optimizer)
    return found + legacy_problems(cfg)


def legacy_problems(cfg: Any) -> list[Problem]:
    """Crescendo 0.0.4's keys (`crescendo.models.legacy_keys`): accepted with the values we can honour."""
    from crescendo.models.legacy_keys import SCHEDULER_KEYS

    found: list[Problem] = []
    for key in ("input_dims", "output_dims"):
        value = read(cfg, f"model.{key}")
        if value is not ABSENT and value != "auto":
            found.append(Problem(f"model.{key}", value, "must be auto: the widths come from the data",
                                 f"write model.{key}=auto or leave it out"))
    found += whole("model.print_every", read(cfg, "model.print_every"), 1,
                   "use an int ≥ 1 or null (it is ignored: metrics.csv has every epoch)", nullable=True)
    kwargs = read(cfg, "model.lr_scheduler_kwargs")
    if kwargs is ABSENT or kwargs is None:
        return found
    if not isinstance(kwargs, dict):
        return [*found, Problem("model.lr_scheduler_kwargs", kwargs, f"must be a mapping, not {type_name(kwargs)}",
                                "use e.g. model.lr_scheduler_kwargs.monitor=val/loss")]
    for name, value in kwargs.items():
        key = f"model.lr_scheduler_kwargs.{name}"
        if name not in SCHEDULER_KEYS:
            found.append(Problem(key, value, "is not a scheduler setting crescendo takes",
                                 f"use {', '.join(SCHEDULER_KEYS)} (scheduler arguments go in model.scheduler)"))
        elif SCHEDULER_KEYS[name] is None and not isinstance(value, str):
            found.append(Problem(key, value, f"must be a metric name, not {type_name(value)}", f"use e.g. {key}=val/loss"))
        elif SCHEDULER_KEYS[name] is not None and value not in SCHEDULER_KEYS[name]:
            allowed = SCHEDULER_KEYS[name][0]
            found.append(Problem(key, value, f"must be {allowed}: the scheduler steps once per epoch",
                                 f"write {key}={allowed} or leave it out"))
    return found


def _node(key: str, value: Any, example: str, nullable: bool, partial: bool) -> list[Problem]:
    """A constructor node: a mapping with a `_target_` (and `_partial_: true` where the model finishes it)."""
    if value is ABSENT or (nullable and value is None):
        return []
    fix = f"use e.g. {key}=\"{example}\"" + (" or null" if nullable else "")
    if not isinstance(value, dict) or not isinstance(value.get("_target_"), str):
        what = "must be a config with a _target_" + ("" if isinstance(value, dict) else f", not {type_name(value)}")
        return [Problem(key, value, what, fix)]
    if partial and value.get("_partial_") is not True:
        return [Problem(f"{key}._partial_", value.get("_partial_", ABSENT), "must be true: the model calls it with "
                        "its parameters", f"set {key}._partial_=true")]
    return []


def _unknown_keywords(optimizer: dict) -> list[Problem]:
    """A key the optimizer's constructor does not take (`cr` adds any torch.optim keyword without '+',
    so `model.optimizer.momentum=0.9` reaches here with Adam): named with the closest one."""
    from crescendo.keywords import keyword_problem, table_keywords

    target = str(optimizer.get("_target_"))
    accepted = table_keywords(target)
    if accepted is None:
        return []
    found = []
    for name, value in optimizer.items():
        if str(name).startswith("_") or name in accepted:
            continue
        found.append(Problem(f"model.optimizer.{name}", value, *keyword_problem(str(name), target, accepted)))
    return found


def optimizer_problems(optimizer: dict) -> list[Problem]:
    """What torch.optim's constructors refuse (lr ≥ 0, betas in [0, 1) ...), plus lr = 0: it learns nothing."""
    key = "model.optimizer"
    found = _unknown_keywords(optimizer)
    found += number(f"{key}.lr", optimizer.get("lr", ABSENT), f"set e.g. {key}.lr=0.001", above=0)
    for name in ("weight_decay", "eps", "momentum", "dampening"):
        found += number(f"{key}.{name}", optimizer.get(name, ABSENT), f"set {key}.{name}=0 or more", at_least=0)
    betas = optimizer.get("betas", ABSENT)
    if betas is not ABSENT and not (isinstance(betas, list) and len(betas) == 2
                                    and all(is_number(b) and 0 <= b < 1 for b in betas)):
        found.append(Problem(f"{key}.betas", betas, "must be two numbers in [0, 1)", f"use e.g. {key}.betas=[0.9,0.999]"))
    for name in ("fused", "foreach", "amsgrad", "nesterov", "maximize", "capturable", "differentiable"):
        found += flag(f"{key}.{name}", optimizer.get(name, ABSENT), f"use {key}.{name}=true or false", nullable=True)
    return found
