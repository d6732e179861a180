"""Fails when the installed Lightning renames or reshapes a private attribute crescendo touches
(all of them live in `crescendo._lightning_private`): existence, what Lightning does with it, and the
signatures of the methods crescendo overrides or calls."""

from __future__ import annotations

import inspect
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loops.optimization.manual import _ManualOptimization
from lightning.pytorch.trainer import call
from lightning.pytorch.trainer.connectors.checkpoint_connector import _CheckpointConnector
from lightning.pytorch.trainer.connectors.logger_connector.logger_connector import _LoggerConnector

from crescendo import _lightning_private as private


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def _trainer(tmp_path: Path, **kwargs) -> pl.Trainer:
    options = dict(max_epochs=2, limit_train_batches=3, limit_val_batches=1, accelerator="cpu", logger=False,
                   enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                   default_root_dir=tmp_path)
    return pl.Trainer(**{**options, **kwargs})


def test_the_hook_name_attribute_is_a_string_lightning_sets_around_hooks():
    assert private.HOOK_NAME_ATTRIBUTE in vars(BoringModel())
    assert f"pl_module.{private.HOOK_NAME_ATTRIBUTE} = " in inspect.getsource(call._call_lightning_module_hook)


def test_batches_that_stepped_is_the_loggers_step_axis_and_is_checkpointed(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.fit(BoringModel())
    epoch_loop = trainer.fit_loop.epoch_loop
    assert epoch_loop._batches_that_stepped == 6
    assert epoch_loop.on_save_checkpoint()["_batches_that_stepped"] == 6  # in the checkpoint, for resuming
    assert "_batches_that_stepped" in inspect.getsource(_LoggerConnector.log_metrics)
    private.count_stepped_batches(trainer, 3)
    assert epoch_loop._batches_that_stepped == 9


def test_the_manual_loop_counts_steps_in_the_optimizer_bookkeeping():
    optimizer = LightningOptimizer(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    assert private.has_step_bookkeeping(optimizer)
    before, after = private.step_bookkeeping(optimizer)
    assert _parameters(before) == [] and _parameters(after) == []
    # the manual loop installs them for each step call; LightningOptimizer.step calls them around the step
    source = inspect.getsource(_ManualOptimization.on_run_start)
    assert "lightning_optimizer._on_before_step = self._on_before_step" in source
    assert "lightning_optimizer._on_after_step = self._on_after_step" in source
    assert "increment_completed" in inspect.getsource(_ManualOptimization._on_after_step)
    step = inspect.getsource(LightningOptimizer.step)
    assert step.index("self._on_before_step()") < step.index("optimizer_step(") < step.index("self._on_after_step()")


def test_dump_checkpoint_takes_weights_only():
    assert _parameters(_CheckpointConnector.dump_checkpoint) == ["self", "weights_only"]


def test_model_checkpoint_private_methods_and_attributes():
    assert _parameters(ModelCheckpoint._save_checkpoint) == ["self", "trainer", "filepath"]
    assert _parameters(ModelCheckpoint._remove_checkpoint) == ["self", "trainer", "filepath"]
    checkpoint = ModelCheckpoint(every_n_train_steps=2)
    assert checkpoint._last_global_step_saved == 0 and checkpoint._last_checkpoint_saved == ""
    assert checkpoint._every_n_train_steps == 2 and checkpoint._train_time_interval is None
    assert private.CheckpointFileHooks(every_n_train_steps=2).saves_on_train_steps
    assert not private.CheckpointFileHooks().saves_on_train_steps
    # what ModelCheckpoint's own _save_checkpoint does, which CheckpointFileHooks repeats around its write
    source = inspect.getsource(ModelCheckpoint._save_checkpoint)
    for line in ("trainer.save_checkpoint(filepath, self.save_weights_only)",
                 "self._last_global_step_saved = trainer.global_step", "self._last_checkpoint_saved = filepath",
                 "logger.after_save_checkpoint(proxy(self))"):
        assert line in source, line
    assert "trainer.strategy.remove_checkpoint(filepath)" in inspect.getsource(ModelCheckpoint._remove_checkpoint)


@pytest.mark.parametrize("settings", [dict(monitor=None, save_top_k=1), dict(monitor="train_loss", save_top_k=2, every_n_train_steps=2)])
def test_checkpoint_file_hooks_behave_as_model_checkpoint(tmp_path, settings):
    # the same fit with Lightning's ModelCheckpoint and with CheckpointFileHooks: the same state after it
    states = []
    for kind in (ModelCheckpoint, private.CheckpointFileHooks):
        pl.seed_everything(0, verbose=False)
        callback = kind(dirpath=tmp_path / kind.__name__, filename="{epoch}-{step}", **settings)
        model = BoringModel()
        model.training_step = _logs_train_loss(model.training_step, model)
        _trainer(tmp_path, callbacks=[callback]).fit(model)
        state = {key: value for key, value in vars(callback).items() if "time" not in key}
        state.pop("dirpath")
        for key in ("best_model_path", "kth_best_model_path", "last_model_path", "_last_checkpoint_saved"):
            state[key] = Path(state[key]).name if state[key] else state[key]
        state["best_k_models"] = {Path(k).name: float(v) for k, v in state["best_k_models"].items()}
        state["files"] = sorted(path.name for path in (tmp_path / kind.__name__).iterdir())
        states.append({key: value for key, value in state.items() if not (isinstance(value, torch.Tensor) or callable(value))})
    assert states[0] == states[1] and states[0]["files"]


def _logs_train_loss(step, module: pl.LightningModule):
    def training_step(batch, batch_idx):
        output = step(batch, batch_idx)
        module.log("train_loss", output["loss"].detach())
        return output

    return training_step


def test_dump_checkpoint_builds_the_loops_state_anew_each_time(tmp_path):
    # BufferedModelCheckpoint keeps a dump's "loops" section without copying it
    trainer = _trainer(tmp_path)
    trainer.fit(BoringModel())
    first, second = (private.dump_checkpoint(trainer, False)["loops"] for _ in range(2))

    def containers(value, found):
        if isinstance(value, (dict, list)):
            found.add(id(value))
            for item in value.values() if isinstance(value, dict) else value:
                containers(item, found)
        return found

    assert first == second and not containers(first, set()) & containers(second, set())
    assert not any(isinstance(v, torch.Tensor) for v in _leaves(first))


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_callback_entry_points_are_read_once_per_process_inside_the_context():
    import importlib.metadata

    import lightning.fabric.utilities.registry as registry
    from lightning.pytorch.trainer.connectors import callback_connector

    assert "entry_points(group=group)" in inspect.getsource(registry._load_external_callbacks)
    assert callback_connector._load_external_callbacks is registry._load_external_callbacks
    assert '_load_external_callbacks("lightning.pytorch.callbacks_factory")' in inspect.getsource(
        callback_connector._CallbackConnector.on_trainer_init)
    original = registry.entry_points
    group = "lightning.pytorch.callbacks_factory"
    with private.entry_points_read_once():
        assert registry.entry_points is not original
        assert list(registry.entry_points(group=group)) == list(importlib.metadata.entry_points(group=group))
        assert registry.entry_points(group=group) is registry.entry_points(group=group)
    assert registry.entry_points is original


def test_the_callbacks_section_and_the_current_hook(tmp_path):
    # BufferedModelCheckpoint's second save at one moment takes the first's copy with this section anew
    seen = []

    class Watcher(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            seen.append(private.current_hook(trainer))

    trainer = _trainer(tmp_path, callbacks=[Watcher(), ModelCheckpoint(dirpath=tmp_path / "c", monitor=None)])
    trainer.fit(BoringModel())
    assert seen == ["on_train_epoch_end"] * 2
    assert private.callbacks_state(trainer) == private.dump_checkpoint(trainer, False)["callbacks"]
    assert 'checkpoint["callbacks"] = call._call_callbacks_state_dict(trainer)' in inspect.getsource(
        _CheckpointConnector.dump_checkpoint)


def test_lightning_puts_its_own_console_handler_on_the_lightning_logger():
    import logging

    import lightning

    handler = private.own_console_handler()
    assert handler is lightning._console and isinstance(handler, logging.StreamHandler)
    assert handler.formatter is not None and handler.formatter._fmt == "%(levelname)s: %(message)s"
