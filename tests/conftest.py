"""Shared fixtures: tiny regression arrays on disk and the packaged config composed for a test."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from helpers import write_arrays


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_arrays(tmp_path / "data")


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose `train.yaml` with overrides, the run directory pointed into tmp_path."""

    def _compose(*overrides: str, run_dir: Path | None = None) -> DictConfig:
        output_dir = run_dir or tmp_path / "run"
        with initialize_config_module("crescendo.conf", version_base="1.3"):
            return compose(
                "train",
                overrides=[f"paths.output_dir={output_dir}", "quiet=true", *overrides],
            )

    return _compose
