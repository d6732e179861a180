"""The keyword names of Lightning's Trainer and of torch.optim's optimizers, without importing either.

`cr` rewrites `trainer.<keyword>=v` and `model.optimizer.<keyword>=v` to Hydra's `++` (add or override)
before Hydra parses the command line, so that any keyword of those signatures works without a `+`
although the packaged config declares only a few. Importing Lightning to read its signature would cost
seconds on every command line, so the names are kept here; tests/test_keywords.py fails (and prints the
right names) when the installed Lightning or torch has other keywords. An optimizer not
in the table (another package's) is inspected when the command line names it (`optimizer_keywords`).
"""

from __future__ import annotations

import importlib
import inspect

#: Trainer(...) keywords, less `callbacks` and `logger`: `train` passes those (from `callbacks.*`, `logger=`)
TRAINER_KEYWORDS: frozenset[str] = frozenset((
    'accelerator', 'strategy', 'devices', 'num_nodes', 'precision', 'fast_dev_run', 'max_epochs',
    'min_epochs', 'max_steps', 'min_steps', 'max_time', 'limit_train_batches', 'limit_val_batches',
    'limit_test_batches', 'limit_predict_batches', 'overfit_batches', 'val_check_interval',
    'check_val_every_n_epoch', 'num_sanity_val_steps', 'log_every_n_steps', 'enable_checkpointing',
    'enable_progress_bar', 'enable_model_summary', 'accumulate_grad_batches', 'gradient_clip_val',
    'gradient_clip_algorithm', 'deterministic', 'benchmark', 'inference_mode',
    'use_distributed_sampler', 'profiler', 'detect_anomaly', 'barebones', 'plugins', 'sync_batchnorm',
    'reload_dataloaders_every_n_epochs', 'default_root_dir', 'enable_autolog_hparams', 'model_registry'
))

#: the keywords of torch.optim's optimizers (less `params`: the model passes its parameters)
OPTIMIZER_KEYWORDS: dict[str, tuple[str, ...]] = {
    "torch.optim.ASGD": (
        'lr', 'lambd', 'alpha', 't0', 'weight_decay', 'foreach', 'maximize', 'differentiable', 'capturable'
    ),
    "torch.optim.Adadelta": ('lr', 'rho', 'eps', 'weight_decay', 'foreach', 'capturable', 'maximize', 'differentiable'),
    "torch.optim.Adafactor": ('lr', 'beta2_decay', 'eps', 'd', 'weight_decay', 'foreach', 'maximize'),
    "torch.optim.Adagrad": (
        'lr', 'lr_decay', 'weight_decay', 'initial_accumulator_value', 'eps', 'foreach', 'maximize',
        'differentiable', 'fused'
    ),
    "torch.optim.Adam": (
        'lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'foreach', 'maximize', 'capturable', 'differentiable',
        'fused', 'decoupled_weight_decay'
    ),
    "torch.optim.AdamW": (
        'lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'maximize', 'foreach', 'capturable', 'differentiable',
        'fused'
    ),
    "torch.optim.Adamax": ('lr', 'betas', 'eps', 'weight_decay', 'foreach', 'maximize', 'differentiable', 'capturable'),
    "torch.optim.LBFGS": (
        'lr', 'max_iter', 'max_eval', 'tolerance_grad', 'tolerance_change', 'history_size', 'line_search_fn'
    ),
    "torch.optim.Muon": (
        'lr', 'weight_decay', 'momentum', 'nesterov', 'ns_coefficients', 'eps', 'ns_steps', 'adjust_lr_fn'
    ),
    "torch.optim.NAdam": (
        'lr', 'betas', 'eps', 'weight_decay', 'momentum_decay', 'decoupled_weight_decay', 'foreach', 'maximize',
        'capturable', 'differentiable'
    ),
    "torch.optim.RAdam": (
        'lr', 'betas', 'eps', 'weight_decay', 'decoupled_weight_decay', 'foreach', 'maximize', 'capturable',
        'differentiable'
    ),
    "torch.optim.RMSprop": (
        'lr', 'alpha', 'eps', 'weight_decay', 'momentum', 'centered', 'capturable', 'foreach', 'maximize',
        'differentiable'
    ),
    "torch.optim.Rprop": ('lr', 'etas', 'step_sizes', 'capturable', 'foreach', 'maximize', 'differentiable'),
    "torch.optim.SGD": (
        'lr', 'momentum', 'dampening', 'weight_decay', 'nesterov', 'maximize', 'foreach', 'differentiable', 'fused'
    ),
    "torch.optim.SparseAdam": ('lr', 'betas', 'eps', 'maximize'),
}

#: every keyword some torch.optim optimizer takes
ANY_OPTIMIZER_KEYWORDS: frozenset[str] = frozenset(name for names in OPTIMIZER_KEYWORDS.values() for name in names)


def keyword_problem(name: str, target: str, accepted: tuple[str, ...] | frozenset[str]) -> tuple[str, str]:
    """(what, fix) for an optimizer keyword `target` does not take: the closest it takes, or the optimizer
    that takes it (SGD, AdamW, Adam first)."""
    import difflib

    accepted = sorted(accepted) if isinstance(accepted, frozenset) else list(accepted)
    close = [c for c in difflib.get_close_matches(name, accepted, n=1, cutoff=0.6) if c != name]
    fix = f"did you mean model.optimizer.{close[0]}?" if close else f"its keywords are {', '.join(accepted)}"
    common = ("torch.optim.SGD", "torch.optim.AdamW", "torch.optim.Adam")
    takers = sorted((t for t, names in OPTIMIZER_KEYWORDS.items() if name in names),
                    key=lambda t: common.index(t) if t in common else len(common))
    if takers:
        fix += f", or choose an optimizer that takes it, e.g. model.optimizer._target_={takers[0]}"
    return f"is not a keyword of {target}", fix


def table_keywords(target: str) -> tuple[str, ...] | None:
    """A torch.optim optimizer's keywords from the table (no import); None for any other class."""
    return OPTIMIZER_KEYWORDS.get(_short(target))


def optimizer_keywords(target: str | None) -> frozenset[str]:
    """The keywords of the optimizer class `target` names: from the table for torch.optim's, else by
    importing it (a user's optimizer); unknown (None, or it does not import): any torch.optim keyword."""
    if not target:
        return ANY_OPTIMIZER_KEYWORDS
    known = table_keywords(target)
    if known is not None:
        return frozenset(known)
    module_name, _, name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
        parameters = inspect.signature(cls).parameters.values()
    except Exception:  # noqa: BLE001 - not importable here: Hydra reports it when it builds the model
        return ANY_OPTIMIZER_KEYWORDS
    return frozenset(p.name for p in parameters if p.name != "params"
                     and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _short(target: str) -> str:
    """`torch.optim.adam.Adam` (the defining module) → `torch.optim.Adam`."""
    if target.startswith("torch.optim.") and target.count(".") == 3:
        return "torch.optim." + target.rsplit(".", 1)[1]
    return target
