"""crescendo.build: the config resolved once, and objects built as hydra.utils.instantiate builds them."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf

from crescendo.build import build, build_callbacks, resolve_once
from crescendo.errors import ConfigError
from crescendo.train import train


def test_resolve_once_resolves_a_copy(compose_cfg, data_dir):
    cfg = compose_cfg(f"data.data_dir={data_dir}", "model=mlp_ensemble")
    before = OmegaConf.to_yaml(cfg)
    resolved = resolve_once(cfg)
    assert OmegaConf.to_yaml(cfg) == before  # the caller's config is left as it is
    assert "${" not in OmegaConf.to_yaml(resolved)
    assert OmegaConf.to_yaml(resolved, resolve=True) == OmegaConf.to_yaml(cfg, resolve=True)
    assert resolved.data.n_members == 5 and resolved.callbacks.model_checkpoint.monitor == "val/loss"


def test_an_escaped_interpolation_keeps_the_config_as_it_is():
    cfg = OmegaConf.create({"a": "\\${not_a_key}", "b": "${a}", "c": 1})
    kept = resolve_once(cfg)
    assert kept is not cfg and OmegaConf.to_yaml(kept) == OmegaConf.to_yaml(cfg)  # unresolved, a copy
    assert OmegaConf.to_yaml(cfg, resolve=True) == "a: ${not_a_key}\nb: ${not_a_key}\nc: 1\n"


def test_config_yaml_is_omegaconfs_resolved_yaml(compose_cfg, data_dir, tmp_path):
    cfg = compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "model.architecture=[4, 3]",
                      "+note='a ${seed} b'", "seed=3")
    train(cfg)
    assert (tmp_path / "run" / "config.yaml").read_text() == OmegaConf.to_yaml(cfg, resolve=True)


def test_build_makes_what_instantiate_makes(compose_cfg, data_dir):
    cfg = resolve_once(compose_cfg(f"data.data_dir={data_dir}", "model.architecture=[4, 3]",
                                   "model.activation={_target_: torch.nn.PReLU}"))
    kwargs = dict(input_dims=5, output_dims=2, monitor="val/loss", batches_per_call=4)
    torch.manual_seed(0)
    built = build(cfg.model, **kwargs)
    torch.manual_seed(0)
    reference = hydra_instantiate(cfg.model, **kwargs)
    assert type(built) is type(reference) and not built.automatic_optimization
    assert set(built.hparams) == set(reference.hparams) and "_partial_" not in cfg.model
    assert {k: type(v) for k, v in built.hparams.items()} == {k: type(v) for k, v in reference.hparams.items()}
    for key, tensor in reference.state_dict().items():
        assert torch.equal(built.state_dict()[key], tensor)
    data = build(cfg.data, _convert_="all", batches_per_call=4)
    assert data.batches_per_call == 4 and isinstance(data.ensemble_split, dict)
    assert "_convert_" not in cfg.data


def test_build_reports_a_bad_key_as_hydra_words_it(compose_cfg, data_dir):
    cfg = resolve_once(compose_cfg(f"data.data_dir={data_dir}", "+model.not_an_argument=3"))
    with pytest.raises(ConfigError, match=r"Error in call to target 'crescendo.models.mlp.MultilayerPerceptron'.*"
                                          r"not_an_argument.*check the key's _target_ and arguments"):
        build(cfg.model, input_dims=5, output_dims=2, monitor="val/loss")
    assert "_partial_" not in cfg.model


def test_a_progress_bar_that_does_not_show_is_not_built(compose_cfg):
    cfg = resolve_once(compose_cfg("callbacks.progress_bar._target_=no.such.Bar"))
    with pytest.raises(ConfigError):
        build_callbacks(cfg, "val/loss", "min", show_progress=True)
    quiet = resolve_once(compose_cfg())
    names = [type(callback).__name__ for callback in build_callbacks(quiet, "val/loss", "min", show_progress=False)]
    assert names == ["BufferedModelCheckpoint", "BufferedModelCheckpoint"]
    assert isinstance(quiet, DictConfig)
