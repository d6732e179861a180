"""`MultilayerPerceptron`: layers, optimizers, epoch logging, checkpoints, non-finite loss."""

from __future__ import annotations

import functools
import warnings

import lightning as L
import pytest
import torch
from torch import nn

from crescendo.errors import ConfigError, NonFiniteLossError
from crescendo.models import MultilayerPerceptron
from crescendo.models.components import DenseNetwork


from helpers import batches, make_trainer


# ------------------------------------------------------------------------------------- layers
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"architecture": [7, 5]},
        {"architecture": 0},
        {"architecture": {"neurons_range": [1, 3], "ramp_std": 0.3}, "seed": 3},
        {"batch_norm": True, "last_batch_norm": True},
        {"dropout": 0.5},
        {"activation": nn.Tanh(), "last_activation": nn.Softplus()},
    ],
)
def test_output_shapes(kwargs):
    model = MultilayerPerceptron(6, 3, **kwargs)
    model.eval()
    out = model(torch.randn(4, 6))
    assert out.shape == (4, 3)
    linears = [m for m in model.net if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [*model.hidden_widths, 3]
    assert model.hparams.architecture == model.hidden_widths


def test_layer_order_and_options():
    model = MultilayerPerceptron(
        6, 2, architecture=[5, 4], batch_norm=True, dropout=0.25, activation=nn.LeakyReLU(0.3),
        last_batch_norm=True, last_activation=nn.Sigmoid(),
    )
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Linear", "BatchNorm1d", "LeakyReLU", "Dropout"] * 2 + ["Linear", "BatchNorm1d", "Sigmoid"]
    acts = [m for m in model.net if isinstance(m, nn.LeakyReLU)]
    assert acts[0] is not acts[1] and all(a.negative_slope == 0.3 for a in acts)
    plain = MultilayerPerceptron(6, 2, architecture=[5])
    assert [type(m).__name__ for m in plain.net] == ["Linear", "ReLU", "Linear"]


def test_activation_class_is_accepted_and_prelu_gets_one_per_layer():
    model = MultilayerPerceptron(6, 2, architecture=[5, 4], activation=nn.PReLU())
    prelus = [m for m in model.net if isinstance(m, nn.PReLU)]
    assert len(prelus) == 2 and prelus[0].weight is not prelus[1].weight
    assert isinstance(MultilayerPerceptron(6, 2, architecture=[5], activation=nn.ELU).net[1], nn.ELU)


def test_sigmoid_keeps_outputs_in_unit_interval():
    model = MultilayerPerceptron(6, 3, architecture=[8], last_activation=nn.Sigmoid())
    out = model(torch.randn(50, 6) * 3)
    assert out.shape == (50, 3) and out.min() > 0 and out.max() < 1


def test_dense_network_is_a_plain_module():
    net = DenseNetwork(4, [3], 2, dropout=0.1)
    assert not isinstance(net, L.LightningModule)
    assert net(torch.randn(2, 4)).shape == (2, 2) and net.hidden_widths == [3]


# ------------------------------------------------------------------------------------- arguments
def test_bad_architecture_is_a_config_error():
    with pytest.raises(ConfigError, match="model.architecture"):
        MultilayerPerceptron(6, 2, architecture="big")


def test_bad_arguments_are_collected_in_one_config_error():
    with pytest.raises(ConfigError) as caught:
        MultilayerPerceptron(6, 2, dropout=1.5, activation="relu", optimizer=torch.optim.Adam([nn.Parameter(torch.ones(1))]))
    message = str(caught.value)
    assert "model.dropout" in message and "model.activation" in message and "model.optimizer" in message


# ------------------------------------------------------------------------------------- optimizers
def test_default_optimizer_is_adam_1e3():
    optimizer = MultilayerPerceptron(6, 2).configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["lr"] == 1e-3


def test_optimizer_and_scheduler_partials_are_used():
    model = MultilayerPerceptron(
        6, 2,
        optimizer=functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9),
        scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2),
    )
    config = model.configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.SGD)
    assert config["optimizer"].param_groups[0]["lr"] == 0.05
    assert isinstance(config["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)
    assert "monitor" not in config["lr_scheduler"]


def test_reduce_on_plateau_watches_the_monitor():
    model = MultilayerPerceptron(
        6, 2, monitor="train/loss",
        scheduler=functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=1),
    )
    config = model.configure_optimizers()
    assert isinstance(config["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert config["lr_scheduler"]["monitor"] == "train/loss"


# ------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One tiny fit shared by the tests below: uneven batches, ReduceLROnPlateau on val/loss
    (Lightning fails the fit if the monitored metric is never logged),
    a random architecture with no seed (the checkpoint must keep the drawn widths)."""
    torch.manual_seed(0)
    tmp_path = tmp_path_factory.mktemp("fit")
    x, y = torch.randn(23, 6), torch.randn(23, 2)
    xv, yv = torch.randn(12, 6), torch.randn(12, 2)
    model = MultilayerPerceptron(
        6, 2,
        architecture={"neurons_range": [1, 3], "ramp_std": 0.5},
        activation=nn.LeakyReLU(0.2), batch_norm=True, dropout=0.1,
        optimizer=functools.partial(torch.optim.AdamW, lr=0.01),
        scheduler=functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0),
    )
    # automatic optimization: the Trainer's clipping and accumulation options keep working
    trainer = make_trainer(tmp_path, max_epochs=2, gradient_clip_val=1.0, accumulate_grad_batches=2)
    trainer.fit(model, batches(x, y, 5), batches(xv, yv, 5))
    metrics = dict(trainer.callback_metrics)
    checkpoint = tmp_path / "model.ckpt"
    trainer.save_checkpoint(checkpoint)
    return {"model": model, "trainer": trainer, "metrics": metrics, "checkpoint": checkpoint,
            "val": (xv, yv), "tmp_path": tmp_path}


def test_fit_logs_epoch_losses(fitted):
    metrics = fitted["metrics"]
    assert {"train/loss", "val/loss"} <= set(metrics)
    assert all(torch.isfinite(metrics[k]) for k in ("train/loss", "val/loss"))
    assert fitted["trainer"].current_epoch == 2


def test_val_loss_is_the_row_weighted_mean(fitted):
    model, (xv, yv) = fitted["model"], fitted["val"]
    model.eval()
    with torch.no_grad():
        expected = nn.functional.mse_loss(model(xv), yv)
    # 12 rows in batches of 5, 5, 2: a plain mean of batch means would differ.
    assert torch.allclose(fitted["metrics"]["val/loss"], expected, atol=1e-6)
    outcome = make_trainer(fitted["tmp_path"]).test(model, batches(xv, yv, 5), verbose=False)
    assert outcome[0]["test/loss"] == pytest.approx(expected.item(), abs=1e-6)


def test_predict_returns_outputs(fitted):
    model, (xv, yv) = fitted["model"], fitted["val"]
    predictions = make_trainer(fitted["tmp_path"]).predict(model, batches(xv, yv, 5))
    assert torch.cat(predictions).shape == (12, 2)
    assert model.predict_step(xv, 0).shape == (12, 2)


def test_checkpoint_rebuilds_the_same_network(fitted):
    model = fitted["model"]
    loaded = MultilayerPerceptron.load_from_checkpoint(fitted["checkpoint"], map_location="cpu")
    assert loaded.hidden_widths == model.hidden_widths
    assert loaded.hparams.optimizer.keywords == {"lr": 0.01}
    model.eval(), loaded.eval()
    x = torch.randn(7, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_nonfinite_loss_stops_training(tmp_path):
    x, y = torch.randn(10, 3), torch.randn(10, 1)
    y[4, 0] = float("nan")
    model = MultilayerPerceptron(3, 1, architecture=[4])
    trainer = make_trainer(tmp_path, max_epochs=3)
    with warnings.catch_warnings(), pytest.raises(NonFiniteLossError, match="epoch 0"):
        warnings.simplefilter("ignore")
        trainer.fit(model, batches(x, y, 4))
    assert trainer.current_epoch == 0


def test_hydra_instantiation_with_omegaconf_values():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({
        "_target_": "crescendo.models.mlp.MultilayerPerceptron",
        "architecture": {"neurons_range": [2, 2], "ramp_std": 0.0},
        "activation": {"_target_": "torch.nn.LeakyReLU", "negative_slope": 0.05},
        "last_activation": {"_target_": "torch.nn.Sigmoid"},
        "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.003},
        "scheduler": None,
        "seed": 0,
    })
    model = instantiate(cfg, input_dims=9, output_dims=3)
    assert model.hidden_widths == [7, 5] and model.hparams.architecture == [7, 5]
    assert model.configure_optimizers().param_groups[0]["lr"] == 0.003
    assert isinstance(model.net[1], nn.LeakyReLU) and model.net[1].negative_slope == 0.05
