"""The original Crescendo 0.0.4's top-level run keys (lightning-hydra-template's): ckpt_path, compile,
tags, extras.{print_config, enforce_tags, ignore_warnings}.

`ckpt_path` must name an existing checkpoint file (`last`: the run directory's checkpoints/last.ckpt,
which a search cannot have: its trials each get a new directory); `compile=true` needs the C++ compiler torch's inductor builds
kernels with; `extras.enforce_tags=true` needs tags (`cr` asks for them first when stdin is a
terminal).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from crescendo.checks._problem import ABSENT, Problem, flag, read
from crescendo.resume import LAST, missing_checkpoint

EXTRAS = ("print_config", "enforce_tags", "ignore_warnings")


def run_key_problems(cfg: Any) -> list[Problem]:
    return [*ckpt_path(cfg), *compile_problems(cfg), *tags(read(cfg, "tags")), *extras(cfg)]


def ckpt_path(cfg: Any) -> list[Problem]:
    value = read(cfg, "ckpt_path")
    if value is ABSENT or value is None:
        return []
    if not isinstance(value, str) or not value:
        return [Problem("ckpt_path", value, "must be a checkpoint file, last or null",
                        "use e.g. ckpt_path=results/train/runs/<time>/checkpoints/last.ckpt")]
    run_dir = read(cfg, "paths.output_dir")
    if value == LAST and not isinstance(run_dir, str):
        # only a search's own process cannot know the run directory: its trials each get a new one
        return [Problem("ckpt_path", value, "cannot be used in a search: every trial gets a new run directory, "
                        "without a last.ckpt", "give a checkpoint file, e.g. ckpt_path=DIR/checkpoints/last.ckpt "
                        "(every trial starts from it)")]
    missing = missing_checkpoint(value, run_dir)
    return [] if missing is None else [Problem("ckpt_path", value, *missing)]


def cxx_compiler() -> str:
    """The C++ compiler torch's inductor calls for CPU kernels (its `cpp.cxx` default: $CXX, else g++,
    clang++ on macOS)."""
    return os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++")


def compile_problems(cfg: Any) -> list[Problem]:
    value = read(cfg, "compile")
    found = flag("compile", value, "use compile=true or compile=false")
    if value is True and shutil.which(cxx_compiler()) is None:
        found.append(Problem("compile", True, f"needs a C++ compiler for torch.compile on the CPU ({cxx_compiler()} "
                             "is not on PATH)", "install one (e.g. apt-get install g++, or set CXX), or use "
                             "compile=false"))
    return found


def tags(value: Any) -> list[Problem]:
    if value is ABSENT or value is None:
        return []
    if isinstance(value, list) and all(isinstance(tag, (str, int, float)) and not isinstance(tag, bool)
                                       and str(tag) for tag in value):
        return []
    return [Problem("tags", value, "must be a list of names", "use e.g. 'tags=[dev, baseline]' or tags=[]")]


def extras(cfg: Any) -> list[Problem]:
    node = read(cfg, "extras")
    if node is ABSENT or node is None:
        return []
    if not isinstance(node, dict):
        return [Problem("extras", node, "must be a mapping", "set its keys, e.g. extras.print_config=true")]
    found: list[Problem] = []
    for key in sorted(set(map(str, node)) - set(EXTRAS)):
        found.append(Problem(f"extras.{key}", node[key], "is not an extras setting",
                             "use extras.{" + ", ".join(EXTRAS) + "}"))
    for key in EXTRAS:
        found += flag(f"extras.{key}", node.get(key, ABSENT), f"use extras.{key}=true or false", nullable=True)
    given = read(cfg, "tags")
    if node.get("enforce_tags") is True and given in (ABSENT, None, []):
        found.append(Problem("tags", [] if given is ABSENT else given, "must name at least one tag when "
                             "extras.enforce_tags=true (cr asks for them only when stdin is a terminal)",
                             "give e.g. 'tags=[dev]', or set extras.enforce_tags=false"))
    return found
