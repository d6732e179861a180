"""`BatchedEnsemble` and its batched layers: independent members, K=1 equals the MLP, logging, checkpoints."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from crescendo.errors import ConfigError
from crescendo.models import MultilayerPerceptron
from crescendo.models.components.batched import BatchedBatchNorm1d, BatchedDenseNetwork, PerMember
from crescendo.models.ensemble import BatchedEnsemble


from helpers import batches, make_trainer


def params_of(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


# ------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("kwargs", [
    {},
    {"architecture": 0},
    {"batch_norm": True, "last_batch_norm": True, "dropout": 0.2},
    {"activation": nn.PReLU(), "last_activation": nn.Sigmoid()},
    {"activation": nn.Softmax(dim=1)},
])
def test_shapes_and_forward_is_the_members_mean(kwargs):
    torch.manual_seed(0)
    model = BatchedEnsemble(6, 3, n_members=4, **kwargs).eval()
    x = torch.randn(5, 6)
    with torch.no_grad():
        members = model.predict_members(x)
        assert members.shape == (4, 5, 3)
        assert torch.allclose(model(x), members.mean(0))
        assert model.predict_step((x, None), 0).shape == (4, 5, 3)
        # one plain MLP per member gives the same outputs (softmax over features, not rows)
        for k in range(4):
            assert torch.allclose(model.member(k).eval()(x), members[k], atol=1e-6)
    assert model.n_members == 4 and model.hparams.n_members == 4


def test_members_differ():
    torch.manual_seed(0)
    model = BatchedEnsemble(6, 2, n_members=3, architecture=[5])
    with torch.no_grad():
        out = model.predict_members(torch.randn(8, 6))
    weights = model.net[0].weight
    for i in range(3):
        for j in range(i + 1, 3):
            assert not torch.allclose(weights[i], weights[j])
            assert not torch.allclose(out[i], out[j])


def test_parameterised_activation_gets_one_copy_per_member_and_layer():
    net = BatchedDenseNetwork(3, 4, [5, 5], 2, activation=nn.PReLU())
    prelus = [m for m in net.modules() if isinstance(m, nn.PReLU)]
    assert len(prelus) == 6 and len({id(p.weight) for p in prelus}) == 6
    assert isinstance(net[1], PerMember) and net[1].shared is None


def test_batch_norm_statistics_are_per_member():
    norm = BatchedBatchNorm1d(2, 3)
    x = torch.stack([torch.randn(16, 3), 10 + 5 * torch.randn(16, 3)])
    out = norm(x)
    assert torch.allclose(out.mean(1), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(norm.running_mean[1], 0.1 * x[1].mean(0), atol=1e-5)
    assert torch.allclose(norm.running_mean[0], 0.1 * x[0].mean(0), atol=1e-5)


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="model.n_members"):
        BatchedEnsemble(6, 2, n_members=0)
    with pytest.raises(ConfigError, match="model.dropout"):
        BatchedEnsemble(6, 2, n_members=2, dropout=2.0)
    model = BatchedEnsemble(6, 2, n_members=2, optimizer=functools.partial(torch.optim.RMSprop, lr=0.01, fused=True))
    with pytest.raises(ConfigError, match="model.optimizer.fused: RMSprop"):
        model.configure_optimizers()


# ------------------------------------------------------------------------------------- equivalence
# A Linear's bias right before batch norm has a zero gradient up to rounding, which Adam would blow up
# to a full step of noise: the batch-norm case steps with SGD.
@pytest.mark.parametrize("options", [
    dict(optimizer=functools.partial(torch.optim.Adam, lr=0.05)),
    dict(optimizer=functools.partial(torch.optim.Adam, lr=0.05, fused=True), activation=nn.PReLU()),
    dict(optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), batch_norm=True,
         last_batch_norm=True, last_activation=nn.Sigmoid()),
], ids=["adam", "fused-adam-prelu", "sgd-batchnorm"])
def test_one_member_equals_a_plain_mlp(options):
    """Same init (copied in), same batch: same outputs, same loss, same state after an optimiser step."""
    torch.manual_seed(0)
    options = dict(architecture=[7, 5], **options)
    mlp = MultilayerPerceptron(6, 3, **options)
    ensemble = BatchedEnsemble(6, 3, n_members=1, **options)
    ensemble.load_member(0, mlp)
    x, y = torch.randn(9, 6), torch.randn(9, 3)
    assert torch.allclose(ensemble(x), mlp(x), atol=1e-6)  # train mode: batch statistics

    optimizers = [mlp.configure_optimizers(), ensemble.configure_optimizers()]
    losses = [model.training_step((x, y), 0) for model in (mlp, ensemble)]
    assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-6)
    for loss, optimizer in zip(losses, optimizers):
        loss.backward()
        optimizer.step()
    stepped, member = params_of(mlp), params_of(ensemble.member(0))
    assert stepped.keys() == member.keys()
    for name in stepped:
        assert torch.allclose(stepped[name], member[name], atol=1e-6), name
    mlp.eval(), ensemble.eval()
    with torch.no_grad():
        assert torch.allclose(ensemble(x), mlp(x), atol=1e-5)


def test_each_member_gets_exactly_its_own_gradient():
    """Per-member batches (K, b, in): member k's gradient is the gradient of its own loss on its own
    rows — nothing from the other members' rows or losses."""
    torch.manual_seed(0)
    ensemble = BatchedEnsemble(4, 2, n_members=3, architecture=[5], dropout=0.0)
    x, y = torch.randn(3, 6, 4), torch.randn(3, 6, 2)
    ensemble.training_step((x, y), 0).backward()
    for k in range(3):
        alone = ensemble.member(k)
        nn.functional.mse_loss(alone(x[k]), y[k]).backward()
        assert torch.allclose(ensemble.net[0].weight.grad[k], alone.net[0].weight.grad.T, atol=1e-6)
        assert torch.allclose(ensemble.net[2].bias.grad[k, 0], alone.net[2].bias.grad, atol=1e-6)
    # rows of member 0 only move member 0's gradient
    before = ensemble.net[0].weight.grad.clone()
    ensemble.zero_grad()
    x2 = x.clone()
    x2[0] += 1.0
    ensemble.training_step((x2, y), 0).backward()
    after = ensemble.net[0].weight.grad
    assert not torch.allclose(after[0], before[0])
    assert torch.allclose(after[1:], before[1:])


def test_criterion_that_cannot_be_vmapped_falls_back_to_a_loop():
    class ItemLoss(nn.Module):  # .item() cannot run under vmap
        def forward(self, out, y):
            scale = float((out.abs().max() >= 0).item())
            return ((out - y) ** 2).mean() * scale

    torch.manual_seed(0)
    ensemble = BatchedEnsemble(4, 2, n_members=2, architecture=[3], criterion=ItemLoss())
    x, y = torch.randn(5, 4), torch.randn(5, 2)
    loss = ensemble.training_step((x, y), 0)
    assert not ensemble._vmap_criterion
    expected = sum(nn.functional.mse_loss(ensemble.member(k)(x), y) for k in range(2))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


# ------------------------------------------------------------------------------------- fit and checkpoint
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    torch.manual_seed(0)
    tmp_path = tmp_path_factory.mktemp("ensemble_fit")
    x, y = torch.randn(23, 6), torch.randn(23, 2)
    xv, yv = torch.randn(12, 6), torch.randn(12, 2)
    model = BatchedEnsemble(
        6, 2, n_members=3, architecture=[5], batch_norm=True, dropout=0.1,
        optimizer=functools.partial(torch.optim.Adam, lr=0.01, fused=True),
        scheduler=functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0),
    )
    trainer = make_trainer(tmp_path, max_epochs=2)
    trainer.fit(model, batches(x, y, 5), batches(xv, yv, 5))
    checkpoint = tmp_path / "ensemble.ckpt"
    trainer.save_checkpoint(checkpoint)
    return {"model": model, "metrics": dict(trainer.callback_metrics), "checkpoint": checkpoint, "val": (xv, yv)}


def test_fit_logs_the_members_mean_and_each_member(fitted):
    metrics, model = fitted["metrics"], fitted["model"]
    xv, yv = fitted["val"]
    model.eval()
    with torch.no_grad():
        out = model.predict_members(xv)
    members = [nn.functional.mse_loss(out[k], yv).item() for k in range(3)]
    for k in range(3):  # row-weighted over uneven batches 5, 5, 2
        assert metrics[f"val/loss_member_{k}"].item() == pytest.approx(members[k], abs=1e-5)
    assert metrics["val/loss"].item() == pytest.approx(sum(members) / 3, abs=1e-5)
    assert metrics["val/loss_of_mean"].item() == pytest.approx(nn.functional.mse_loss(out.mean(0), yv).item(), abs=1e-5)
    assert torch.isfinite(metrics["train/loss"])


def test_checkpoint_load_predict_round_trip(fitted):
    model = fitted["model"].eval()
    loaded = BatchedEnsemble.load_from_checkpoint(fitted["checkpoint"], map_location="cpu").eval()
    assert loaded.n_members == 3 and loaded.hidden_widths == model.hidden_widths
    x = torch.randn(7, 6)
    with torch.no_grad():
        assert torch.equal(loaded.predict_members(x), model.predict_members(x))
        assert torch.equal(loaded(x), model(x))
