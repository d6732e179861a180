"""Any keyword of Lightning's Trainer and of the configured optimizer works without '+': `cr` rewrites it
to Hydra's `++` before Hydra parses (crescendo.overrides, names from crescendo.keywords); a name outside
those signatures stays Hydra's unknown key, with the closest keyword suggested."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from helpers import run_cr

from crescendo.checks import problems
from crescendo.keywords import OPTIMIZER_KEYWORDS, TRAINER_KEYWORDS, optimizer_keywords
from crescendo.overrides import normalize_overrides


def _keywords(function, drop: tuple[str, ...]) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [n for n, p in inspect.signature(function).parameters.items() if p.kind in kinds and n not in drop]


def test_trainer_table_is_the_installed_lightning_signature():
    import lightning.pytorch as pl

    assert sorted(TRAINER_KEYWORDS) == sorted(_keywords(pl.Trainer.__init__, ("self", "callbacks", "logger")))


def test_optimizer_table_is_the_installed_torch_signatures():
    import torch.optim

    installed = {f"torch.optim.{name}": tuple(_keywords(cls.__init__, ("self", "params")))
                 for name, cls in vars(torch.optim).items()
                 if inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer}
    assert OPTIMIZER_KEYWORDS == installed, f"regenerate crescendo/keywords.py's table: {installed}"


def test_the_command_line_path_imports_neither_torch_nor_lightning():
    code = ("import sys; from crescendo.overrides import normalize_overrides; "
            "normalize_overrides(['trainer.precision=bf16-mixed', 'model.optimizer.weight_decay=0.1', "
            "'model.optimizer._target_=torch.optim.SGD', 'model.optimizer.momentum=0.9']); "
            "assert not {'torch', 'lightning'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("given, expected", [
    (["trainer.precision=bf16-mixed"], ["++trainer.precision=bf16-mixed"]),
    (["trainer.max_epochs=3"], ["trainer.max_epochs=3"]),  # declared in the packaged config: as written
    (["model.optimizer.lr=interval(0.001, 0.01)"], ["model.optimizer.lr=interval(0.001, 0.01)"]),
    (["trainer.max_epoch=3"], ["trainer.max_epoch=3"]),  # not a keyword: Hydra's unknown key
    (["trainer.callbacks=[]"], ["trainer.callbacks=[]"]),  # train passes callbacks (callbacks.*)
    (["+trainer.precision=16"], ["+trainer.precision=16"]),  # the user's own '+' is kept
    (["model.optimizer.weight_decay=0.01"], ["++model.optimizer.weight_decay=0.01"]),
    (["model.optimizer.weight_decay=interval(0, 0.01)"], ["++model.optimizer.weight_decay=interval(0, 0.01)"]),
    (["model.optimizer.weight_decy=0.01"], ["model.optimizer.weight_decy=0.01"]),
    (["model.optimizer._target_=torch.optim.SGD", "model.optimizer.momentum=0.9"],
     ["model.optimizer._target_=torch.optim.SGD", "++model.optimizer.momentum=0.9"]),
    (["model.optimizer._target_=torch.optim.SGD", "model.optimizer.betas=[0.9,0.99]"],  # Adam's, not SGD's
     ["model.optimizer._target_=torch.optim.SGD", "model.optimizer.betas=[0.9,0.99]"]),
    (["model.optimizer._target_=choice(torch.optim.SGD, torch.optim.Adam)", "model.optimizer.betas=[0.9,0.99]"],
     ["model.optimizer._target_=choice(torch.optim.SGD, torch.optim.Adam)", "++model.optimizer.betas=[0.9,0.99]"]),
    (["~trainer.precision"], ["~trainer.precision"]),
])
def test_rewrite(given, expected):
    assert normalize_overrides(given) == expected


def test_an_optimizer_outside_torch_optim_is_inspected():
    assert "lr" in optimizer_keywords("torch.optim.SGD")
    assert optimizer_keywords("helpers.NoSuchOptimizer") == optimizer_keywords(None)  # unknown: any torch.optim's


def test_composed_and_checked(compose_cfg):
    cfg = compose_cfg(*normalize_overrides(["trainer.precision=bf16-mixed", "model.optimizer._target_=torch.optim.SGD",
                                            "model.optimizer.momentum=0.9", "model.optimizer.weight_decay=0.01"]))
    assert cfg.trainer.precision == "bf16-mixed"
    assert cfg.model.optimizer.momentum == 0.9 and cfg.model.optimizer.weight_decay == 0.01
    assert problems(cfg) == []


def test_a_keyword_of_another_optimizer_is_named(compose_cfg):
    cfg = compose_cfg(*normalize_overrides(["model.optimizer.momentum=0.9"]))  # Adam has no momentum
    assert [str(p) for p in problems(cfg)] == [
        "model.optimizer.momentum=0.9: is not a keyword of torch.optim.Adam — its keywords are "
        + ", ".join(OPTIMIZER_KEYWORDS["torch.optim.Adam"])
        + ", or choose an optimizer that takes it, e.g. model.optimizer._target_=torch.optim.SGD"]


@pytest.mark.slow
def test_cr_trains_with_trainer_and_optimizer_keywords(tmp_path):
    done = run_cr("data=diabetes", "trainer.max_epochs=1", "trainer.precision=bf16-mixed",
                  "model.optimizer._target_=torch.optim.SGD", "model.optimizer.momentum=0.9",
                  "model.optimizer.fused=null", "paths.root_dir=results", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = next((tmp_path / "results").rglob("config.yaml")).read_text()
    assert "precision: bf16-mixed" in config and "momentum: 0.9" in config


@pytest.mark.slow
def test_search_grammar_on_an_optimizer_keyword(tmp_path):
    done = run_cr("data=diabetes", "hparams_search=optuna", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1",
                  "model.optimizer.weight_decay=interval(0, 0.01)", "paths.root_dir=results", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = next((tmp_path / "results").rglob("trials.csv")).read_text()
    assert "model.optimizer.weight_decay" in trials.splitlines()[0]
    assert trials.count("COMPLETE") == 2
    results = next((tmp_path / "results").rglob("optimization_results.yaml")).read_text()
    assert "loss_units: standardized targets" in results  # data=diabetes scales its targets


def test_hydra_sweeper_params_keys_need_no_plus_either(compose_cfg):
    """A keyword searched from the config (`hydra.sweeper.params`) is added the same way; one the
    configured optimizer does not take stays an unknown key, refused before any trial."""
    from crescendo.errors import ConfigError
    from hydra_plugins.crescendo_sweeper._space import parse_search_space

    config = compose_cfg("data=diabetes")
    space = parse_search_space([], {"model.optimizer.weight_decay": "interval(0, 0.01)",
                                    "trainer.gradient_clip_val": "choice(0.5, 1.0)"}, config=config)
    assert [p.key_element for p in space.params] == ["++model.optimizer.weight_decay", "++trainer.gradient_clip_val"]
    assert space.overrides({"model.optimizer.weight_decay": 0.005, "trainer.gradient_clip_val": 1.0}) == [
        "++model.optimizer.weight_decay=0.005", "++trainer.gradient_clip_val=1.0"]
    with pytest.raises(ConfigError, match=r"model.optimizer.momentum=interval\(0.5, 0.9\): model.optimizer.momentum "
                                          r"is not a key of the config"):
        parse_search_space([], {"model.optimizer.momentum": "interval(0.5, 0.9)"}, config=config)
