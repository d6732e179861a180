"""Export a trained model that takes RAW inputs: feature selection and the input scaler built in.

`run.model()` is the network alone: it expects inputs that were already column-selected and
standardised, which a user of an exported file cannot know how to do. `raw_input_model` wraps the
network in a small module that does exactly what `Run.predict` does — select the run's columns,
standardise them with the checkpoint's scaler (in float64, then float32, like NumPy does in
`predict`), call the network and, with `data.normalize_targets`, map its outputs back to the targets'
own units (in float64 too) — so the exported file gives the same numbers as `run.predict`.

Formats, chosen by the file's suffix:
- ``.pt2``: `torch.export` (load with ``torch.export.load(path).module()``; torch only)
- ``.onnx``: `torch.onnx.export` (needs ``pip install 'crescendo[onnx]'``; run with onnxruntime)

Both take float32 inputs ``x`` of shape (n, raw features) for any n.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from crescendo.analysis._files import atomic_write
from crescendo.analysis.ensemble import Ensemble
from crescendo.analysis.run import Run
from crescendo.errors import CrescendoError

__all__ = ["FORMATS", "ONNX_INSTALL", "MembersModel", "RawInputModel", "check_format", "export_model",
           "raw_input_model"]

FORMATS = {".pt2": "torch.export", ".onnx": "ONNX"}
ONNX_INSTALL = "pip install 'crescendo[onnx]'"
#: rows of the example input the graph is traced with (the batch dimension stays dynamic)
_EXAMPLE_ROWS = 3


class RawInputModel(nn.Module):
    """One run's columns → its scaler → its network (`method`: forward, stack or predict_members)."""

    def __init__(self, run: Run, method: str) -> None:
        super().__init__()
        state = run.input_module.state_dict()
        columns, mean, scale = state.get("feature_columns"), state.get("scaler_mean"), state.get("scaler_scale")
        self.raw_input_dims = int(state["raw_input_dims"])
        self.select = columns is not None
        self.standardise = mean is not None
        self.register_buffer("columns", torch.tensor(columns or [], dtype=torch.long))
        self.register_buffer("mean", torch.tensor(mean or [], dtype=torch.float64))
        self.register_buffer("scale", torch.tensor(scale or [], dtype=torch.float64))
        target_mean, target_scale = state.get("target_mean"), state.get("target_scale")
        self.unscale_targets = target_mean is not None
        self.register_buffer("target_mean", torch.tensor(target_mean or [], dtype=torch.float64))
        self.register_buffer("target_scale", torch.tensor(target_scale or [], dtype=torch.float64))
        self.network = copy.deepcopy(run.model("cpu"))  # moving this module leaves the run's model alone
        self.method = method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._network(x)
        if self.unscale_targets:  # in float64, like Run.predict's y32 * scale64 + mean64
            y = (y.to(torch.float64) * self.target_scale + self.target_mean).to(torch.float32)
        return y

    def _network(self, x: torch.Tensor) -> torch.Tensor:
        if self.select:
            x = torch.index_select(x, 1, self.columns)
        if self.standardise:  # in float64, like NumPy's (x32 - mean64) / scale64 in Run.predict
            x = ((x.to(torch.float64) - self.mean) / self.scale).to(torch.float32)
        if self.method == "forward":
            return self.network(x)
        if self.method == "stack":  # a plain run as one member: (1, n, targets)
            return self.network(x).unsqueeze(0)
        return self.network.predict_members(x)


class MembersModel(nn.Module):
    """Several runs' members stacked, (members, n, targets), or their mean, (n, targets)."""

    def __init__(self, parts: list[RawInputModel], mean: bool) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.raw_input_dims = parts[0].raw_input_dims
        self.mean = mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stacked = torch.cat([part(x) for part in self.parts], dim=0)
        return stacked.mean(dim=0) if self.mean else stacked


def raw_input_model(target: Run | Ensemble, members: bool = False) -> nn.Module:
    """An eval-mode `nn.Module` mapping raw float32 inputs (n, raw features) to predictions.

    A plain run gives (n, targets). A batched-ensemble run or an `Ensemble` gives the members' mean
    (n, targets), or with ``members=True`` every member's prediction, (members, n, targets) — the
    numbers of `Run.predict` / `Ensemble.predict_stats` and `Ensemble.predict`.
    """
    if isinstance(target, Run):
        if target.is_batched_ensemble and members:
            return RawInputModel(target, "predict_members").eval()
        return RawInputModel(target, "forward").eval()
    if not isinstance(target, Ensemble):
        raise CrescendoError(f"cannot export a {type(target).__name__}: pass a Run or an Ensemble")
    parts = [RawInputModel(run, "predict_members" if run.is_batched_ensemble else "stack") for run in target.runs]
    widths = sorted({part.raw_input_dims for part in parts})
    if len(widths) > 1:
        raise CrescendoError(f"the ensemble's members take different raw input widths ({widths}) — "
                             "one exported model needs one input width")
    return MembersModel(parts, mean=not members).eval()


# ---------------------------------------------------------------------- writing files


def check_format(path: Path) -> str:
    """The format `path`'s suffix names; fails before any work on an unknown one or a missing extra."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise CrescendoError(f"{path}: unknown export format ({shown}) — use .pt2 (torch.export) or .onnx "
                             f"({ONNX_INSTALL})")
    if suffix == ".onnx":
        missing = [name for name in ("onnx", "onnxscript") if not _importable(name)]
        if missing:
            raise CrescendoError(f"{path}: writing .onnx needs {' and '.join(missing)} (torch's ONNX exporter) "
                                 f"— {ONNX_INSTALL}")
    return suffix


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def export_model(target: Run | Ensemble, path: str | Path, members: bool = False,
                 metadata: dict[str, Any] | None = None) -> Path:
    """Write `raw_input_model(target, members)` to `path` (.pt2 or .onnx), atomically; return the path.

    `metadata` (plain JSON values) is stored in the file: ``crescendo.json`` among a .pt2's extra
    files, ``crescendo`` in an .onnx model's metadata.
    """
    path = Path(path).expanduser()
    suffix = check_format(path)
    model = raw_input_model(target, members=members)
    example = (torch.zeros((_EXAMPLE_ROWS, model.raw_input_dims), dtype=torch.float32),)
    batch = torch.export.Dim("batch")
    text = json.dumps(metadata or {}, sort_keys=True)
    try:
        with torch.no_grad(), warnings.catch_warnings(), _quiet_onnx_logs():
            warnings.simplefilter("ignore")  # the exporters' deprecation and tracing chatter
            if suffix == ".pt2":
                program = torch.export.export(model, example, dynamic_shapes={"x": {0: batch}})
            else:
                program = torch.onnx.export(model, example, None, dynamic_shapes={"x": {0: batch}},
                                            input_names=["x"], output_names=["y"], verbose=False)
                program.model.metadata_props["crescendo"] = text
    except Exception as error:  # noqa: BLE001 - an exporter failure, told in one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CrescendoError(f"{path}: {FORMATS[suffix]} could not export the model "
                             f"({type(error).__name__}: {first})") from error
    if suffix == ".pt2":
        atomic_write(path, lambda tmp: torch.export.save(program, tmp, extra_files={"crescendo.json": text}), "-o")
    else:
        atomic_write(path, lambda tmp: program.save(tmp, external_data=False), "-o")
    return path


@contextlib.contextmanager
def _quiet_onnx_logs() -> Iterator[None]:
    """torch's ONNX exporter logs a warning per torchvision op it skips; none of that concerns users."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
