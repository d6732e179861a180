"""The checking stage (`crescendo.checks`): every packaged config passes, every bad value is one named
problem (`key=value: what — fix`), and all problems of a config come back together. No training."""

from __future__ import annotations

import pytest

from crescendo.checks import check, problems
from crescendo.errors import ConfigError

GOOD = [
    [], ["data=diabetes"], ["model=mlp_ensemble"], ["model=mlp_random_architecture"], ["trainer=ddp_cpu"],
    ["trainer=gpu"], ["trainer=ddp"], ["debug=fast_dev_run"], ["debug=limit"], ["debug=overfit"],
    ["experiment=diabetes_quick"], ["callbacks=early_stopping"], ["seed=0"], ["seed=4294967295"],
    ["model.architecture=0"], ["model.architecture=[]"], ["model.architecture=[64,32]"],
    ["trainer.max_epochs=-1", "+trainer.max_time=00:00:01:00"], ["trainer.max_epochs=-1", "+trainer.max_steps=10"],
    ["model=mlp_ensemble", "monitor=val/loss_member_4"], ["monitor=train/loss", "mode=max"],
    ["trainer.devices=auto"], ["trainer.devices=[0,1]"], ["trainer.devices='0,1'"], ["trainer.devices=-1"],
    ["model.optimizer._target_=torch.optim.SGD", "+model.optimizer.momentum=0.9"],
    ["model.optimizer.lr=1"], ["+model.optimizer.betas=[0.9,0.99]"], ["cpu_threads=null"], ["batches_per_call=4"],
    ["model._target_=my.own.Model", "model.architecture=abc", "monitor=anything"],  # not ours: not judged
    ["data=diabetes", "data.feature_select='0:5'"], ["model.scheduler=null", "model.last_activation=null"],
]


@pytest.mark.parametrize("overrides", GOOD, ids=[" ".join(o) or "defaults" for o in GOOD])
def test_the_packaged_configs_pass(compose_cfg, data_dir, overrides):
    cfg = compose_cfg(f"+data.data_dir={data_dir}", *overrides) if "data=diabetes" not in overrides and not any(
        o.startswith("experiment") for o in overrides) else compose_cfg(*overrides)
    assert [str(p) for p in problems(cfg)] == []


BAD = [
    # (overrides, the one problem: its parts in order)
    (["model.optimizer.lr=-1"], ["model.optimizer.lr=-1: must be a number > 0", "model.optimizer.lr=0.001"]),
    (["model.optimizer.lr=0"], ["model.optimizer.lr=0: must be a number > 0"]),
    (["model.optimizer.lr=abc"], ["model.optimizer.lr=abc: must be a number > 0, not a string"]),
    (["model.optimizer.lr=[1,2]"], ["model.optimizer.lr=[1, 2]: must be a number > 0, not a list"]),
    (["model.optimizer.lr=true"], ["model.optimizer.lr=true: must be a number > 0, not a bool"]),
    (["+model.optimizer.weight_decay=-0.1"], ["model.optimizer.weight_decay=-0.1: must be a number ≥ 0"]),
    (["+model.optimizer.betas=[0.9,1.5]"], ["model.optimizer.betas=[0.9, 1.5]: must be two numbers in [0, 1)"]),
    (["model.optimizer.fused=maybe"], ["model.optimizer.fused=maybe: must be true or false or null, not a string"]),
    (["model.optimizer._partial_=false"], ["model.optimizer._partial_=false: must be true", "_partial_=true"]),
    (["model.optimizer=adam"], ["model.optimizer=adam: must be a config with a _target_, not a string"]),
    (["model.activation=relu"], ["model.activation=relu: must be a config with a _target_, not a string",
                                 "{_target_: torch.nn.ReLU}"]),
    (["seed=abc"], ["seed=abc: must be an int in [0, 4294967295] or null (unseeded), not a string", "seed=42"]),
    (["seed=-1"], ["seed=-1: must be an int in [0, 4294967295]"]),
    (["seed=1.5"], ["seed=1.5: must be an int", "not a float"]),
    (["mode=middle"], ["mode=middle: must be min or max — use mode=min or mode=max"]),
    (["monitor=val/lss"], ["monitor=val/lss: must be a metric the model logs (train/loss, val/loss)",
                           "did you mean monitor=val/loss?"]),
    (["model=mlp_ensemble", "monitor=val/loss_member_9"], ["monitor=val/loss_member_9: must be a metric"]),
    (["batches_per_call=0"], ["batches_per_call=0: must be an int ≥ 1", "use auto"]),
    (["cpu_threads=many"], ["cpu_threads=many: must be an int ≥ 1, not a string", "use auto, null"]),
    (["trainer.max_epochs=abc"], ["trainer.max_epochs=abc: must be an int ≥ 1, not a string"]),
    (["trainer.max_epochs=0"], ["trainer.max_epochs=0: must be ≥ 1: 0 epochs trains nothing"]),
    (["trainer.max_epochs=-1"], ["trainer.max_epochs=-1: trains forever unless trainer.max_time or "
                                 "trainer.max_steps bounds it", "+trainer.max_time="]),
    (["trainer.max_epochs=-5"], ["trainer.max_epochs=-5: must be an int ≥ 1"]),
    (["trainer.max_epochs=2.5"], ["trainer.max_epochs=2.5: must be an int ≥ 1, not a float"]),
    (["trainer.min_epochs=5", "trainer.max_epochs=2"], ["trainer.min_epochs=5: must not exceed trainer.max_epochs=2"]),
    (["trainer.accelerator=cpuu"], ["trainer.accelerator=cpuu: must be one of auto, cpu", "did you mean "
                                    "trainer.accelerator=cpu?"]),
    (["trainer.devices=0"], ["trainer.devices=0: must be an int ≥ 1, -1 (all), auto"]),
    (["trainer.devices=two"], ["trainer.devices=two: must be"]),
    (["trainer.check_val_every_n_epoch=0"], ["trainer.check_val_every_n_epoch=0: must be an int ≥ 1 or null"]),
    (["trainer.enable_progress_bar=yes please"], ["trainer.enable_progress_bar='yes please'", "true or false"]),
    (["data.batch_size=0"], ["data.batch_size=0: must be an int ≥ 1 — set e.g. data.batch_size=64"]),
    (["data.batch_size=-1"], ["data.batch_size=-1: must be an int ≥ 1"]),
    (["data.batch_size=abc"], ["data.batch_size=abc: must be an int ≥ 1, not a string"]),
    (["data.batch_size=1.5"], ["data.batch_size=1.5: must be an int ≥ 1, not a float"]),
    (["data.normalize_inputs=sometimes"], ["data.normalize_inputs=sometimes: must be true or false"]),
    (["data.builtin=iris"], ["data.builtin=iris: must be a built-in dataset (diabetes)"]),
    (["data.feature_select=abc"], ["data.feature_select=abc: cannot read 'abc'", "0:100,150:200"]),
    (["data.ensemble_split.enable=true", "data.ensemble_split.index=7"],
     ["data.ensemble_split.index=", "is not an int in [0, 5)"]),
    (["model.architecture=-3"], ["model.architecture=-3: is a negative number of hidden layers — expected"]),
    (["model.architecture=[0,5]"], ["model.architecture=[0, 5]: has a hidden width below 1"]),
    (["model.architecture=abc"], ["model.architecture=abc: has type str"]),
    (["model.architecture=[a]"], ["model.architecture=[a]: is a list whose entries are not all ints"]),
    (["model.architecture=1.5"], ["model.architecture=1.5: has type float"]),
    (["model=mlp_random_architecture", "model.architecture.neurons_range=[5,2]"],
     ["model.architecture=", "needs 0 <= lo <= hi in neurons_range, got [5, 2]"]),
    (["model.batch_norm=maybe"], ["model.batch_norm=maybe: must be true or false, not a string"]),
    (["model.dropout=1.5"], ["model.dropout=1.5: must be a number ≥ 0 and < 1"]),
    (["model.dropout=abc"], ["model.dropout=abc: must be a number ≥ 0 and < 1, not a string"]),
    (["model=mlp_ensemble", "model.n_members=0"], ["model.n_members=0: must be an int ≥ 1"]),
]


@pytest.mark.parametrize("overrides, parts", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_a_bad_value_is_one_named_problem(compose_cfg, overrides, parts):
    found = [str(p) for p in problems(compose_cfg("data=diabetes", *overrides))]
    assert len(found) == 1, found
    position = 0
    for part in parts:
        at = found[0].find(part, position)
        assert at >= 0, f"{part!r} not in {found[0]!r}"
        position = at + len(part)


def test_builtin_data_refuses_a_data_dir(compose_cfg, data_dir):
    found = [str(p) for p in problems(compose_cfg("data=diabetes", f"+data.data_dir={data_dir}"))]
    assert found == [f"data.data_dir={data_dir}: cannot be used with the built-in data=diabetes (it would be "
                     "ignored) — use data=regression data.data_dir=DIR to train on your arrays, or drop "
                     "data.data_dir to train on diabetes"]


def test_every_problem_comes_back_in_one_error(compose_cfg):
    cfg = compose_cfg("data=diabetes", "seed=abc", "data.batch_size=0", "model.optimizer.lr=-1", "trainer.max_epochs=0")
    with pytest.raises(ConfigError) as caught:
        check(cfg)
    message = str(caught.value)
    assert message.count("; ") == 3 and "\n" not in message
    for key in ("seed=abc", "data.batch_size=0", "model.optimizer.lr=-1", "trainer.max_epochs=0"):
        assert key in message


def test_plain_mappings_are_checked_too():
    assert [str(p) for p in problems({"seed": "x", "mode": "min"})][0].startswith("seed=x: must be an int")


def test_the_checks_import_no_torch():
    import subprocess
    import sys

    code = "import sys, crescendo.checks as c; c.problems({'seed': 1}); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_plain_leaves_out_what_cannot_be_resolved_here():
    from omegaconf import OmegaConf

    from crescendo.checks import plain

    cfg = OmegaConf.create({"paths": {"output_dir": "${hydra:runtime.output_dir}", "root": "r"}, "seed": "${n}", "n": 3,
                            "model": {"architecture": [4, "${n}"]}})
    assert plain(cfg) == {"paths": {"root": "r"}, "seed": 3, "n": 3, "model": {"architecture": [4, 3]}}
