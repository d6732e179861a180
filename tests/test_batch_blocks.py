"""Several batches per Lightning step (`batches_per_call`): the same training as one batch a step,
and used only where nothing counts batches."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import pytest
import torch

from crescendo.batch_blocks import DEFAULT_BATCHES_PER_CALL, StepBlock, decide_batches_per_call
from crescendo.data import ArrayRegressionDataModule
from crescendo.data.loaders import BlockedBatches
from crescendo.errors import ConfigError
from crescendo.models.mlp import MultilayerPerceptron
from crescendo.train import train
from helpers import batches, write_arrays

PLATEAU = ("model.scheduler={_target_: torch.optim.lr_scheduler.ReduceLROnPlateau, _partial_: true, "
           "patience: 0, factor: 0.5, threshold: 0.5}")
STEP_LR = "model.scheduler={_target_: torch.optim.lr_scheduler.StepLR, _partial_: true, step_size: 1, gamma: 0.5}"


def test_blocked_batches_group_the_inner_batches_in_order():
    x, y = torch.arange(10.0).unsqueeze(1), torch.zeros(10, 1)
    blocked = BlockedBatches(batches(x, y, 3), 3)  # 4 batches: 3 + 1
    blocks = list(blocked)
    assert len(blocked) == len(blocks) == 2 and all(isinstance(b, StepBlock) for b in blocks)
    assert [len(b) for b in blocks] == [3, 1]
    assert torch.equal(torch.cat([xb for block in blocks for xb, _ in block]), x)


def _train_and_read(compose_cfg, tmp_path: Path, name: str, *overrides: str) -> tuple[float, dict]:
    result = train(compose_cfg(*overrides, run_dir=tmp_path / name))
    checkpoint = torch.load(Path(result.run_dir) / "checkpoints/last.ckpt", weights_only=False)
    checkpoint["metrics.csv"] = pd.read_csv(Path(result.run_dir) / "metrics.csv")
    return result.objective, checkpoint


@pytest.mark.parametrize("model, batches_an_epoch", [
    (("model=mlp", "model.batch_norm=true", "model.dropout=0.2"), 13),
    # two members on their own KFold halves: 100 rows each, 7 batches
    (("model=mlp_ensemble", "model.n_members=2", "data.ensemble_split.enable=true", "model.batch_norm=true"), 7),
], ids=["mlp", "ensemble"])
@pytest.mark.parametrize("scheduler", [PLATEAU, STEP_LR], ids=["plateau", "step_lr"])
def test_blocks_train_exactly_as_one_batch_a_step(compose_cfg, tmp_path, model, batches_an_epoch, scheduler):
    # 200 rows in batches of 16: 13 batches an epoch (7 per ensemble member), so blocks of 4 and 16 end short
    data = write_arrays(tmp_path / "data", rows=(200, 40, 12))
    common = (f"data.data_dir={data}", "data.batch_size=16", "trainer.max_epochs=4", "seed=5",
              "model.optimizer.lr=0.05", scheduler, *model)
    runs = {k: _train_and_read(compose_cfg, tmp_path, f"k{k}", *common, f"batches_per_call={k}") for k in (1, 4, 16)}
    objective, reference = runs[1]
    assert reference["global_step"] == 4 * batches_an_epoch  # one optimizer step per batch
    reference_lr = reference["optimizer_states"][0]["param_groups"][0]["lr"]
    if scheduler == STEP_LR:
        assert reference_lr == pytest.approx(0.05 * 0.5 ** 4)
    else:
        assert reference_lr < 0.05  # the plateau scheduler did reduce it, so its stepping is compared below
    for k in (4, 16):
        blocked_objective, checkpoint = runs[k]
        assert blocked_objective == objective
        assert checkpoint["global_step"] == reference["global_step"]
        # the loggers' step axis counts optimizer steps in both
        pd.testing.assert_frame_equal(checkpoint["metrics.csv"], reference["metrics.csv"])
        assert checkpoint["optimizer_states"][0]["param_groups"][0]["lr"] == reference_lr
        for key, tensor in reference["state_dict"].items():
            assert torch.equal(checkpoint["state_dict"][key], tensor), (k, key)


def test_production_mode_plateau_scheduler_watches_the_training_loss_in_blocks(compose_cfg, tmp_path):
    data = write_arrays(tmp_path / "data", rows=(120, 20, 10))
    common = (f"data.data_dir={data}", "data.batch_size=8", "data.production_mode=true", "trainer.max_epochs=3",
              "seed=2", "model.optimizer.lr=0.1", PLATEAU)
    (objective, classic), (blocked_objective, blocked) = (
        _train_and_read(compose_cfg, tmp_path, f"k{k}", *common, f"batches_per_call={k}") for k in (1, 8))
    assert blocked_objective == objective
    assert blocked["optimizer_states"][0]["param_groups"][0]["lr"] == classic["optimizer_states"][0]["param_groups"][0]["lr"]


def _decide(compose_cfg, *overrides: str) -> int:
    return decide_batches_per_call(compose_cfg(*overrides))


def test_auto_uses_blocks_when_nothing_counts_batches(compose_cfg):
    assert _decide(compose_cfg) == DEFAULT_BATCHES_PER_CALL  # quiet, as in a search
    neutral = ("+trainer.limit_train_batches=1.0", "+trainer.val_check_interval=null", "+trainer.max_steps=-1",
               "+trainer.gradient_clip_val=null")
    assert _decide(compose_cfg, *neutral) == DEFAULT_BATCHES_PER_CALL
    assert _decide(compose_cfg, "batches_per_call=3") == 3
    assert _decide(compose_cfg, "model=mlp_ensemble") == DEFAULT_BATCHES_PER_CALL


@pytest.mark.parametrize("override, key", [
    ("+trainer.gradient_clip_val=1.0", "trainer.gradient_clip_val"),
    ("+trainer.accumulate_grad_batches=2", "trainer.accumulate_grad_batches"),
    ("+trainer.limit_train_batches=3", "trainer.limit_train_batches"),
    ("+trainer.val_check_interval=0.5", "trainer.val_check_interval"),
    ("+trainer.max_steps=10", "trainer.max_steps"),
    ("+trainer.overfit_batches=2", "trainer.overfit_batches"),
    ("+trainer.fast_dev_run=true", "trainer.fast_dev_run"),
    ("+trainer.limit_val_batches=1", "trainer.limit_val_batches"),  # an int 1 is one batch, not all
    ("+trainer.max_time=00:00:10:00", "trainer.max_time"),
    ("+trainer.profiler=simple", "trainer.profiler"),
])
def test_settings_that_count_batches_rule_blocks_out(compose_cfg, override, key):
    assert _decide(compose_cfg, override) == 1
    assert _decide(compose_cfg, override, "batches_per_call=1") == 1
    with pytest.raises(ConfigError, match=f"batches_per_call=4 cannot be used with .*{key}=.*set batches_per_call=1"):
        _decide(compose_cfg, override, "batches_per_call=4")


LR_STEP = "+callbacks.lrm={_target_: lightning.pytorch.callbacks.LearningRateMonitor, logging_interval: step}"
LR_EPOCH = "+callbacks.lrm={_target_: lightning.pytorch.callbacks.LearningRateMonitor, logging_interval: epoch}"
STEP_CHECKPOINT = ("+callbacks.steps={_target_: lightning.pytorch.callbacks.ModelCheckpoint, every_n_train_steps: 5}")
TIME_CHECKPOINT = ("+callbacks.timed={_target_: crescendo.callbacks.BufferedModelCheckpoint, "
                   "train_time_interval: {_target_: datetime.timedelta, seconds: 5}}")
EPOCH_CHECKPOINT = "+callbacks.epochs={_target_: lightning.pytorch.callbacks.ModelCheckpoint, every_n_epochs: 2}"
EARLY_STOPPING = "callbacks=early_stopping"


@pytest.mark.parametrize("overrides, blocks", [
    ((LR_STEP,), False),
    ((LR_EPOCH,), True),
    (("+callbacks.lrm={_target_: lightning.pytorch.callbacks.LearningRateMonitor}",), False),
    ((STEP_CHECKPOINT,), False),
    ((TIME_CHECKPOINT,), False),
    ((EPOCH_CHECKPOINT,), True),
    ((EARLY_STOPPING,), True),
    (("+callbacks.hooks={_target_: test_batch_blocks._StepHookCounter}",), False),
    (("+callbacks.zero={_target_: test_batch_blocks._ZeroGradWatcher}",), False),
    # a progress bar counts batches when it shows; quiet (searches) or enable_progress_bar=false drop it
    (("quiet=false",), False),
    (("quiet=false", "trainer.enable_progress_bar=false"), True),
    (("quiet=false", "trainer.enable_progress_bar=false", "callbacks.progress_bar=null"), True),
    (("quiet=false", "callbacks.progress_bar=null"), False),  # Lightning adds its own bar
    (("+callbacks.bar={_target_: lightning.pytorch.callbacks.TQDMProgressBar}",), True),  # quiet: dropped
    (("+callbacks.made={_target_: builtins.dict}",), False),  # not a Callback class: unknown hooks
    # loggers log per epoch here; their step axis is kept exactly in blocks
    (("logger=tensorboard",), True),
], ids=["lr-step", "lr-epoch", "lr-default", "ckpt-steps", "ckpt-time", "ckpt-epochs", "early-stopping",
        "step-hooks", "zero-grad-hook", "bar", "bar-off", "no-bar-off", "lightning-bar", "bar-quiet", "factory",
        "logger"])
def test_blocks_only_when_no_callback_acts_per_step(compose_cfg, overrides, blocks):
    assert _decide(compose_cfg, *overrides) == (DEFAULT_BATCHES_PER_CALL if blocks else 1)
    if not blocks:
        with pytest.raises(ConfigError, match="batches_per_call=4 cannot be used with .*set batches_per_call=1"):
            _decide(compose_cfg, *overrides, "batches_per_call=4")


def test_the_error_names_every_conflicting_key(compose_cfg):
    with pytest.raises(ConfigError) as error:
        _decide(compose_cfg, "quiet=false", LR_STEP, "+trainer.max_steps=7", "batches_per_call=8")
    message = str(error.value)
    assert message.index("trainer.max_steps=7") < message.index("a progress bar") < message.index("callbacks.lrm")
    assert "LearningRateMonitor acts every batch or step: on_train_batch_start" in message


def test_a_model_or_data_module_of_another_kind_gets_one_batch_a_step(compose_cfg):
    assert _decide(compose_cfg, "model._target_=lightning.pytorch.demos.boring_classes.BoringModel") == 1
    assert _decide(compose_cfg, "model._target_=test_batch_blocks._HookedModel") == 1
    assert _decide(compose_cfg, "data._target_=lightning.pytorch.demos.boring_classes.BoringDataModule") == 1


@pytest.mark.parametrize("value", [0, -2, "many", True, 1.5])
def test_a_bad_batches_per_call_names_the_key(compose_cfg, value):
    with pytest.raises(ConfigError, match="batches_per_call=.*: must be an int ≥ 1.* — use auto, or an int ≥ 1"):
        decide_batches_per_call({**compose_cfg(), "batches_per_call": value})


def test_the_constructors_take_the_decision():
    model = MultilayerPerceptron(input_dims=2, output_dims=1, architecture=[2], batches_per_call=4)
    assert not model.automatic_optimization and "batches_per_call" not in model.hparams
    assert MultilayerPerceptron(input_dims=2, output_dims=1, architecture=[2]).automatic_optimization
    assert ArrayRegressionDataModule(builtin="diabetes", batches_per_call=4).batches_per_call == 4
    with pytest.raises(ConfigError, match="batches_per_call: 'auto' is not an int >= 1"):
        MultilayerPerceptron(input_dims=2, output_dims=1, architecture=[2], batches_per_call="auto")


def test_a_block_given_to_automatic_optimization_is_refused():
    model = MultilayerPerceptron(input_dims=2, output_dims=1, architecture=[2])
    with pytest.raises(RuntimeError, match="StepBlock needs a module built with the same batches_per_call"):
        model.training_step(StepBlock([(torch.zeros(2, 2), torch.zeros(2, 1))]), 0)


class _ZeroGradWatcher(L.Callback):
    def on_before_zero_grad(self, trainer, pl_module, optimizer) -> None:
        pass


class _HookedModel(MultilayerPerceptron):
    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        pass


class _StepHookCounter(L.Callback):
    def __init__(self) -> None:
        self.after_backward = self.before_optimizer_step = 0

    def on_after_backward(self, trainer, pl_module) -> None:
        self.after_backward += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.before_optimizer_step += 1


def test_per_step_hooks_still_run_once_per_optimizer_step_in_blocks(tmp_path):
    # train() gives such a callback one batch a step; a Python user may still combine them
    data = write_arrays(tmp_path / "data")

    def fit(callbacks: list) -> tuple[L.LightningModule, L.Trainer]:
        L.seed_everything(0, verbose=False)
        # 48 rows in batches of 8: 6 steps an epoch
        datamodule = ArrayRegressionDataModule(data_dir=str(data), batch_size=8, batches_per_call=4)
        model = MultilayerPerceptron(input_dims=5, output_dims=2, architecture=[4], batches_per_call=4)
        trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
        trainer.fit(model, datamodule=datamodule)
        return model, trainer

    direct, direct_trainer = fit([])
    counter = _StepHookCounter()
    dispatched, dispatched_trainer = fit([counter])
    # without hooks to call, steps go straight to torch; with one, through Lightning's dispatch
    assert direct._block_steps.direct and not dispatched._block_steps.direct
    assert direct_trainer.global_step == dispatched_trainer.global_step == 3 * 6
    assert counter.after_backward == counter.before_optimizer_step == 3 * 6
    for key, tensor in direct.state_dict().items():
        assert torch.equal(dispatched.state_dict()[key], tensor), key
