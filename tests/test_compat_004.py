"""Crescendo 0.0.4's spellings run unchanged: its model keys (input_dims/output_dims=auto, print_every,
lr_scheduler_kwargs), trainer=ddp_sim, debug=fdr, and its random architecture — checked, then real `cr`
commands on tiny data."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import run_cr, write_arrays

from crescendo.checks import problems
from crescendo.overrides import normalize_overrides
from crescendo.train import train

GOOD = [
    ["model.input_dims=auto", "model.output_dims=auto"],
    ["model.print_every=20"], ["model.print_every=null"],
    ["model.lr_scheduler_kwargs.monitor=train/loss", "model.lr_scheduler_kwargs.interval=epoch",
     "model.lr_scheduler_kwargs.frequency=1"],
    ["model.lr_scheduler_kwargs=null"], ["model=mlp_ensemble", "model.input_dims=auto"],
    ["model=mlp_random_architecture", "model.architecture.ramp_std=1.0", "+model.architecture.ramp_rel_std=0.1"],
    ["trainer=ddp_sim"], ["debug=fdr"],
]


@pytest.mark.parametrize("overrides", GOOD, ids=[" ".join(o) for o in GOOD])
def test_the_originals_spellings_pass_the_checks(compose_cfg, data_dir, overrides):
    assert [str(p) for p in problems(compose_cfg(*normalize_overrides([f"data.data_dir={data_dir}", *overrides])))] == []


BAD = [
    (["model.input_dims=7"], ("model.input_dims=7: must be auto: the widths come from the data — "
                              "write model.input_dims=auto or leave it out")),
    (["model.output_dims=x"], "model.output_dims=x: must be auto"),
    (["model.print_every=0"], "model.print_every=0: must be an int ≥ 1 or null"),
    (["model.lr_scheduler_kwargs.interval=step"], "model.lr_scheduler_kwargs.interval=step: must be epoch"),
    (["model.lr_scheduler_kwargs.frequency=2"], "model.lr_scheduler_kwargs.frequency=2: must be 1"),
    (["model.lr_scheduler_kwargs.monitor=3"], "model.lr_scheduler_kwargs.monitor=3: must be a metric name, not an int"),
    (["+model.lr_scheduler_kwargs.patience=3"], "model.lr_scheduler_kwargs.patience=3: is not a scheduler setting"),
    (["model=mlp_random_architecture", "model.architecture.ramp_std=-1"],
     "needs ramp_std to be a finite number >= 0"),
    (["model=mlp_random_architecture", "+model.architecture.ramp_rel_std=-0.5"],
     "needs ramp_rel_std to be a finite number >= 0"),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD, ids=[" ".join(o) for o, _ in BAD])
def test_values_we_cannot_honour_are_named(compose_cfg, data_dir, overrides, expected):
    found = [str(p) for p in problems(compose_cfg(*normalize_overrides([f"data.data_dir={data_dir}", *overrides])))]
    assert len(found) == 1 and expected in found[0], found


def test_the_scheduler_watches_lr_scheduler_kwargs_monitor(compose_cfg, data_dir):
    scheduler = "model.scheduler={_target_: torch.optim.lr_scheduler.ReduceLROnPlateau, _partial_: true}"
    result = train(compose_cfg(*normalize_overrides([f"data.data_dir={data_dir}", "trainer.max_epochs=1", scheduler,
                               "model.lr_scheduler_kwargs.monitor=train/loss", "model.print_every=3"])))
    checkpoint = torch.load(result.best_checkpoint, weights_only=False)
    assert checkpoint["hyper_parameters"]["monitor"] == "train/loss"
    assert "print_every" not in checkpoint["hyper_parameters"]
    assert checkpoint["lr_schedulers"][0]["best"] is not None  # it stepped on train/loss


def test_the_originals_commands_run(tmp_path):
    data = write_arrays(tmp_path / "data")
    common = [f"data.data_dir={data}", "trainer.max_epochs=1", "model.input_dims=auto", "model.output_dims=auto",
              "model.print_every=20", "model.lr_scheduler_kwargs.monitor=val/loss"]
    done = run_cr(*common, "model=mlp_random_architecture", "model.architecture.neurons_range=[2,5]",
                  "model.architecture.ramp_std=1.0", "seed=3", f"hydra.run.dir={tmp_path / 'random'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    widths = json.loads((tmp_path / "random" / "result.json").read_text())["architecture"]
    assert 2 <= len(widths) <= 5 and all(w >= 1 for w in widths)
    done = run_cr(*common, "debug=fdr", f"hydra.run.dir={tmp_path / 'fdr'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_a_value_we_cannot_honour_is_one_line_and_no_run_dir(tmp_path):
    data = write_arrays(tmp_path / "data")
    done = run_cr(f"data.data_dir={data}", "model.lr_scheduler_kwargs.interval=step",
                  f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2
    expected = ("cr: error: model.lr_scheduler_kwargs.interval=step: must be epoch: the scheduler steps once per "
                "epoch — write model.lr_scheduler_kwargs.interval=epoch or leave it out")
    assert done.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "run").exists()
