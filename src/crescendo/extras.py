"""`extras.*` and `tags`: the original Crescendo 0.0.4's (lightning-hydra-template's) start-of-run
utilities — print the config tree, ask for tags, silence warnings — and the tags a logger is given.

The prompt is the entry point's (`ask_for_tags`, called by `cr` before `train`); `train` applies the
rest (`apply_extras`) once the config is checked and before any data is read.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from omegaconf import DictConfig, OmegaConf, open_dict

#: the config's top-level sections printed first, in this order (the template's)
_PRINT_ORDER = ("data", "model", "callbacks", "logger", "trainer", "paths", "extras")


def run_tags(cfg: Any) -> list[str]:
    """The run's tags as strings (`tags` unset or null: none)."""
    value = cfg.get("tags") if hasattr(cfg, "get") else None
    return [str(tag) for tag in (value or [])]


def ask_for_tags(cfg: DictConfig, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """With `extras.enforce_tags` and no tags, ask for them when stdin is a terminal and set `cfg.tags`
    (before anything is built); otherwise leave the config as it is (the check refuses it)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    extras = cfg.get("extras") or {}
    if not extras.get("enforce_tags") or run_tags(cfg) or not stdin.isatty():
        return
    stdout.write("cr: no tags given (extras.enforce_tags=true). Enter comma-separated tags [dev]: ")
    stdout.flush()
    answer = stdin.readline().strip() or "dev"
    with open_dict(cfg):
        cfg.tags = [tag.strip() for tag in answer.split(",") if tag.strip()] or ["dev"]


def apply_extras(cfg: DictConfig, run_dir: Path) -> None:
    """`extras.ignore_warnings` and `extras.print_config`, as the template's `extras()` did."""
    extras = cfg.get("extras") or {}
    if extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    if extras.get("print_config"):
        print_config_tree(cfg, run_dir / "config_tree.log")


def print_config_tree(cfg: DictConfig, save_to: Path | None = None,
                      order: Sequence[str] = _PRINT_ORDER) -> None:
    """Print the composed config as a rich tree (one branch per top-level section), and save it."""
    import rich
    import rich.syntax
    import rich.tree

    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    sections = [key for key in order if key in cfg] + [key for key in cfg if key not in order]
    for key in sections:
        branch = tree.add(str(key), style="dim", guide_style="dim")
        value = cfg[key]
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        branch.add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        with open(save_to, "w") as file:
            rich.print(tree, file=file)


def logger_tags(node: Any, tags: list[str]) -> dict[str, Any]:
    """The `tags` keyword for a logger config that takes tags and sets none itself (null or empty): a
    list for W&B (passed to its run), one tag per name with an empty value for MLflow (whose tags are
    key → value)."""
    if not tags or node.get("tags"):
        return {}
    target = str(node.get("_target_", "")).rsplit(".", 1)[-1]
    if target.lower() == "mlflowlogger":  # Lightning's MLFlowLogger, or crescendo's MLflowLogger over it
        return {"tags": {tag: "" for tag in tags}}
    if target == "WandbLogger":
        return {"tags": list(tags)}
    return {}
