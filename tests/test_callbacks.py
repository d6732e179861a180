"""BufferedModelCheckpoint writes exactly what ModelCheckpoint would, just later; BestEpochMetrics agrees with it."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from crescendo.train import train


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.parametrize("write_every_seconds", [0, 3600])
def test_best_and_last_hold_their_own_epochs(compose_cfg, data_dir, tmp_path, write_every_seconds):
    cfg = compose_cfg(
        f"data.data_dir={data_dir}", "trainer.max_epochs=5", "model.optimizer.lr=0.3", "seed=3",
        f"callbacks.model_checkpoint.write_every_seconds={write_every_seconds}",
    )
    result = train(cfg)
    checkpoints = tmp_path / "run" / "checkpoints"
    best, last = _load(checkpoints / "best.ckpt"), _load(checkpoints / "last.ckpt")
    assert best["epoch"] == result.best_epoch and last["epoch"] == 4
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv").dropna(subset=["val/loss"])
    assert metrics["val/loss"].idxmin() == metrics.index[metrics["epoch"] == result.best_epoch][0]
    # the snapshot is the weights of that epoch, not the live (later) weights
    if best["epoch"] != last["epoch"]:
        differs = [not torch.equal(best["state_dict"][k], last["state_dict"][k]) for k in best["state_dict"]]
        assert any(differs)
    # a checkpoint is usable for prediction on its own: weights, hyperparameters, the input scaler
    assert "ArrayRegressionDataModule" in best and best["hyper_parameters"]["input_dims"] == 5


def test_checkpoint_reloads_to_the_reported_objective(compose_cfg, data_dir, tmp_path):
    from crescendo.analysis import load

    result = train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=4", "seed=5"))
    run = load(tmp_path / "run")
    datamodule = run.datamodule()
    datamodule.setup("fit")
    model = run.model()
    with torch.no_grad():
        losses = [model.criterion(model(x), y) * len(x) for x, y in datamodule.val_dataloader()]
    assert float(sum(losses) / datamodule.n_val) == pytest.approx(result.objective, rel=1e-5)


def test_a_failing_run_still_writes_the_checkpoints_it_had(compose_cfg, data_dir, tmp_path):
    # lr=1e6 makes the loss overflow after the first epochs: the run fails, earlier epochs' files stay
    cfg = compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=30", "model.optimizer.lr=1e12", "seed=0")
    with pytest.raises(Exception):
        train(cfg)
    record = (tmp_path / "run" / "result.json").read_text()
    assert '"status": "failed"' in record


def _relative(value, run):
    """Paths inside `run` as relative paths, in dict keys and values alike."""
    if isinstance(value, str):
        return value.replace(str(run), "<run>")
    if isinstance(value, dict):
        return {_relative(k, run): _relative(v, run) for k, v in value.items()}
    return value


def _assert_same(a, b, where="checkpoint"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif type(a).__name__ == "ndarray":  # NumPy's generator state (crescendo.callbacks.RandomState)
        assert type(a) is type(b) and (a == b).all(), where
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.nn.Module) or callable(a):
        assert type(a) is type(b), where
    else:
        assert a == b, where


@pytest.mark.parametrize("epochs, lr, best_before_last", [(6, 0.3, True), (6, 0.01, False), (1, 0.01, False)])
def test_buffered_checkpoints_hold_what_model_checkpoint_writes(compose_cfg, data_dir, tmp_path, epochs, lr,
                                                                best_before_last):
    # best before last: best's copy must not follow training; best at the last epoch: last.ckpt reuses
    # best's copy from the same moment, with the callbacks' states taken anew (they differ at epoch 0)
    common = (f"data.data_dir={data_dir}", f"trainer.max_epochs={epochs}", f"model.optimizer.lr={lr}", "seed=3",
              "data.batch_size=8", "callbacks=early_stopping",
              "model.scheduler={_target_: torch.optim.lr_scheduler.StepLR, _partial_: true, step_size: 1, gamma: 0.9}")
    lightning = ("callbacks.model_checkpoint._target_=lightning.pytorch.callbacks.ModelCheckpoint",
                 "callbacks.last_checkpoint._target_=lightning.pytorch.callbacks.ModelCheckpoint",
                 "~callbacks.model_checkpoint.write_every_seconds", "~callbacks.last_checkpoint.write_every_seconds")
    train(compose_cfg(*common, run_dir=tmp_path / "buffered"))
    train(compose_cfg(*common, *lightning, run_dir=tmp_path / "lightning"))
    best = _load(tmp_path / "buffered" / "checkpoints" / "best.ckpt")
    assert (best["epoch"] < epochs - 1) == best_before_last
    for name in ("best", "last"):
        buffered = _load(tmp_path / "buffered" / "checkpoints" / f"{name}.ckpt")
        written = _load(tmp_path / "lightning" / "checkpoints" / f"{name}.ckpt")
        # the callbacks' state keys name their class; their states are the same, paths relative to the run
        states = [[_relative(state, run) for _, state in sorted((key.replace("Buffered", ""), state)
                                                                for key, state in ck.pop("callbacks").items())]
                  for ck, run in ((buffered, tmp_path / "buffered"), (written, tmp_path / "lightning"))]
        _assert_same(*states)
        _assert_same(buffered, written)
