"""Regularizers against closed forms, under autocast, and lazily through the real Trainer."""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo import host, resolve_recipe
from ganzoo.data import load_data
from ganzoo.errors import GanzooError, UnknownComponentError
from ganzoo.host import get_table
from ganzoo.recipes import with_data_shape
from ganzoo.train.loop import Trainer

SHAPE = (4, 1, 2, 3)  # N, C, H, W: six inputs per sample


class LinearD(nn.Module):
    """D(x) = w·x + b, so ∇ₓD = w at every x: every gradient penalty has a closed form."""

    def __init__(self, w: list[float], b: float = 0.5) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x, labels=None):
        return x.flatten(1) @ self.w + self.b


class SquareD(nn.Module):
    """D(x) = a/2·‖x‖², so ∇ₓD = a·x differs per sample."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(1.5))

    def forward(self, x, labels=None):
        return 0.5 * self.a * x.flatten(1).square().sum(1)


W = [0.3, -1.2, 0.4, 2.0, 0.0, -0.5]
W_SQ = sum(v * v for v in W)  # ‖w‖² = 5.94


def fn(name: str):
    return host.get_table().get("regularizer", name).fn


def batches():
    g = torch.Generator().manual_seed(0)
    return torch.randn(SHAPE, generator=g), torch.randn(SHAPE, generator=g)


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_r1_r2_on_a_linear_d_are_half_the_squared_weight_norm(name):
    D = LinearD(W)
    real, fake = batches()
    penalty = fn(name)(D, real, fake, None)
    assert penalty.item() == pytest.approx(0.5 * W_SQ, rel=1e-6)
    penalty.backward()  # d/dw (‖w‖²/2) = w: the penalty trains D
    assert torch.allclose(D.w.grad, torch.tensor(W), atol=1e-6)


def test_r1_is_on_reals_and_r2_on_fakes():
    D = SquareD()
    real, fake = batches()
    norms = {"r1": real.flatten(1).square().sum(1), "r2": fake.flatten(1).square().sum(1)}
    for name, sq in norms.items():  # 1/2·E‖a·x‖²
        assert fn(name)(D, real, fake, None).item() == pytest.approx(
            0.5 * 1.5**2 * sq.mean().item(), rel=1e-5)


def test_gradient_penalty_on_a_linear_d():
    D = LinearD(W)
    real, fake = batches()
    penalty = fn("gp")(D, real, fake, None)
    norm = W_SQ**0.5
    assert penalty.item() == pytest.approx((norm - 1) ** 2, rel=1e-6)
    penalty.backward()  # d/dw (‖w‖-1)² = 2(‖w‖-1)·w/‖w‖
    want = 2 * (norm - 1) / norm * torch.tensor(W)
    assert torch.allclose(D.w.grad, want, atol=1e-5)


def test_gradient_penalty_is_taken_between_real_and_fake():
    D = SquareD()
    real, fake = batches()
    # with real == fake every interpolate is that sample: E(‖a·x‖ - 1)²
    norms = 1.5 * real.flatten(1).norm(dim=1)
    want = (norms - 1).square().mean().item()
    assert fn("gp")(D, real, real.clone(), None).item() == pytest.approx(want, rel=1e-5)
    # x̂ = α·real + (1 - α)·fake with one α ~ U(0, 1) per sample (drawn first, so reseeding
    # reproduces it): the penalty is E(a‖x̂‖ - 1)², at neither end of the segment
    far = 100 * fake
    torch.manual_seed(0)
    alpha = torch.rand(real.shape[0], 1, 1, 1)
    mixed = alpha * real + (1 - alpha) * far
    want = (1.5 * mixed.flatten(1).norm(dim=1) - 1).square().mean().item()
    torch.manual_seed(0)
    got = fn("gp")(D, real, far, None).item()
    assert got == pytest.approx(want, rel=1e-5)
    at_ends = [(1.5 * x.flatten(1).norm(dim=1) - 1).square().mean().item() for x in (real, far)]
    assert all(abs(got - end) > 1e-3 * end for end in at_ends)


def test_drift_is_the_mean_squared_real_score():
    D = LinearD(W, b=0.5)
    real, fake = batches()
    scores = [sum(w * v for w, v in zip(W, row)) + 0.5 for row in real.flatten(1).tolist()]
    want = sum(s * s for s in scores) / len(scores)
    assert fn("drift")(D, real, fake, None).item() == pytest.approx(want, rel=1e-5)


def test_default_weights_and_intervals():
    got = {n: (r.weight, r.interval) for n in ("r1", "r2", "gp", "drift")
           for r in [host.get_table().get("regularizer", n)]}
    assert got == {"r1": (10.0, 16), "r2": (10.0, 16), "gp": (10.0, 1), "drift": (0.001, 1)}


class LinearLayerD(nn.Module):
    """A D whose matmul autocast would run in bf16 if the penalty let it."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.fc = nn.Linear(6, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x, labels=None):
        return self.out(torch.tanh(self.fc(x.flatten(1)))).flatten()


@pytest.mark.parametrize("name", ["r1", "r2", "gp", "drift"])
def test_penalties_run_in_fp32_inside_bf16_autocast(name):
    D = LinearLayerD()
    real, fake = batches()
    torch.manual_seed(1)
    want = fn(name)(D, real, fake, None)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = fn(name)(D, real.bfloat16(), fake.bfloat16(), None)
        # what autocast would have done to the same D, to show the test can tell
        low = D(real).dtype
    assert low == torch.bfloat16
    assert got.dtype == torch.float32
    # the only difference left is rounding the inputs to bf16
    torch.manual_seed(1)
    rounded = fn(name)(D, real.bfloat16().float(), fake.bfloat16().float(), None)
    assert got.item() == pytest.approx(rounded.item(), rel=1e-6)
    assert got.item() == pytest.approx(want.item(), rel=0.05)
    got.backward()
    assert D.fc.weight.grad is not None and torch.isfinite(D.fc.weight.grad).all()


# -- through the recipe and the Trainer --------------------------------------------------------


def make_plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: ganzoo.hookimpl(f) for name, f in hooks.items()})


def probe_plugin(calls: list[int]) -> types.SimpleNamespace:
    """A loss that is exactly 0 on D, and a regularizer that records when it runs and is 1."""

    def probe(D, real, fake, labels):
        calls.append(real.shape[0])
        return D(real, labels).mean() * 0 + 1.0

    def register_losses(register):
        register("zero", d_loss=lambda r, f: (r.mean() + f.mean()) * 0,
                 g_loss=lambda f, r: -f.mean(), regularizers=("probe",))

    def register_regularizers(register):
        register("probe", fn=probe, weight=0.25, interval=2)

    return make_plugin(register_losses=register_losses,
                       register_regularizers=register_regularizers)


@pytest.fixture(scope="module")
def fashion():
    return load_data("fashion-mnist", 16, table=get_table())


def trainer_for(tmp_path, data, *overrides: str) -> Trainer:
    recipe = resolve_recipe("dcgan", ["generator.ngf=8", "discriminator.ndf=8", "train.batch=8",
                                      "train.resolution=16", *overrides])
    return Trainer(with_data_shape(recipe, data.channels, data.num_classes), data, tmp_path,
                   torch.device("cpu"), table=get_table())


def test_lazy_interval_runs_every_k_d_steps_with_the_weight_times_k(tmp_path, fashion):
    calls: list[int] = []
    plugin = probe_plugin(calls)
    host.register_plugin(plugin, "probe")
    try:
        trainer = trainer_for(tmp_path, fashion, "loss=zero",
                              "regularizers=[{name: probe, weight: 2, interval: 3}]")
        d_losses = [trainer.train_step().d_loss.item() for _ in range(6)]
        # n_critic 1: D steps 3 and 6 regularize, each adding weight * interval * 1
        assert d_losses == [0.0, 0.0, 6.0, 0.0, 0.0, 6.0]
        assert calls == [8, 8]

        calls.clear()  # the companion with its registered defaults: 0.25 every 2 D steps,
        trainer = trainer_for(tmp_path / "b", fashion, "loss=zero", "train.n_critic=2")
        d_losses = [trainer.train_step().d_loss.item() for _ in range(3)]
        # n_critic 2 counts D steps, not G steps; the reported loss is the last D step's
        assert d_losses == [0.5, 0.5, 0.5] and len(calls) == 3

        calls.clear()
        trainer = trainer_for(tmp_path / "c", fashion, "loss=zero",
                              "regularizers=[{name: probe, weight: 0}]")
        trainer.train_step()
        trainer.train_step()
        assert calls == [] and trainer.regularizers == []
    finally:
        host.unregister_plugin(plugin, "probe")


def test_r1_in_a_real_training_step_changes_d(tmp_path, fashion):
    plain = trainer_for(tmp_path / "a", fashion)
    r1 = trainer_for(tmp_path / "b", fashion, "regularizers=[{name: r1, weight: 100, interval: 1}]")
    plain.train_step()
    r1.train_step()
    assert torch.isfinite(r1.train_step().d_loss)
    assert not torch.equal(plain.D.net[0].weight, r1.D.net[0].weight)


@pytest.mark.parametrize(("override", "want"), [
    ("regularizers=[r1]", [("ganzoo:r1", 10.0, 16)]),
    ("regularizers=r1", [("ganzoo:r1", 10.0, 16)]),
    ("regularizers=[{name: r1, weight: 5, interval: 4}, drift]",
     [("ganzoo:r1", 5.0, 4), ("ganzoo:drift", 0.001, 1)]),
    ("regularizers=[{name: 'ganzoo:gp', interval: 2}]", [("ganzoo:gp", 10.0, 2)]),
    ("regularizers=[]", []),
])
def test_regularizer_overrides(override, want):
    recipe = resolve_recipe("dcgan", [override])
    assert [(r.name, r.weight, r.interval) for r in recipe.regularizers] == want


@pytest.mark.parametrize(("override", "message"), [
    ("regularizers=[nosuch]", "unknown regularizer 'nosuch'.*Known regularizers: drift, gp, r1"),
    ("regularizers=[{name: r1, interval: 0}]", r"regularizers\[0\].interval must be at least 1"),
    ("regularizers=[{name: r1, weight: -1}]", "weight must be >= 0"),
    ("regularizers=[{name: r1, wieght: 5}]", "has no key 'wieght': did you mean 'weight'"),
    ("regularizers=[r1, {name: r1, weight: 2}]", "lists 'ganzoo:r1' twice"),
    ("regularizers=[{name: r1, interval: often}]", "interval must be an integer"),
])
def test_bad_regularizer_overrides(override, message):
    with pytest.raises(GanzooError, match=message):
        resolve_recipe("dcgan", [override])


def test_a_plugin_loss_can_bring_a_builtin_regularizer():
    plugin = make_plugin(register_losses=lambda register: register(
        "ns-r1", d_loss=lambda r, f: r.mean(), g_loss=lambda f, r: f.mean(),
        regularizers=["r1"]))
    host.register_plugin(plugin, "acme")
    try:
        recipe = resolve_recipe("dcgan", ["loss=ns-r1"])
        assert [(r.name, r.weight, r.interval) for r in recipe.regularizers] == [
            ("ganzoo:r1", 10.0, 16)]
    finally:
        host.unregister_plugin(plugin, "acme")


def test_a_loss_naming_a_missing_regularizer_fails_when_used():
    plugin = make_plugin(register_losses=lambda register: register(
        "needs-x", d_loss=lambda r, f: r.mean(), g_loss=lambda f, r: f.mean(),
        regularizers=("nosuch",)))
    host.register_plugin(plugin, "acme")
    try:
        with pytest.raises(GanzooError, match=r"loss 'acme:needs-x' regularizers\[0\]: "
                                              "unknown regularizer 'nosuch'"):
            resolve_recipe("dcgan", ["loss=needs-x"])
    finally:
        host.unregister_plugin(plugin, "acme")
    with pytest.raises(UnknownComponentError):
        host.get_table().resolve("loss", "needs-x")


@pytest.mark.parametrize(("fields", "message"), [
    ({"regularizers": "gp"}, "regularizers must be a tuple"),
    ({"regularizers": ({"weight": 1},)}, "regularizers must be a tuple"),
    ({"after_d_step": 0.01}, "after_d_step must be a callable"),
])
def test_malformed_loss_companions_are_rejected_at_registration(fields, message):
    plugin = make_plugin(register_losses=lambda register: register(
        "bad", d_loss=lambda r, f: r.mean(), g_loss=lambda f, r: f.mean(), **fields))
    with pytest.raises(GanzooError, match=message):
        host.register_plugin(plugin, "bad")


@pytest.mark.parametrize(("fields", "message"), [
    ({"interval": 0}, "interval must be an integer >= 1"),
    ({"interval": 2.5}, "interval must be an integer >= 1"),
    ({"weight": "10"}, "weight must be a number"),
])
def test_malformed_regularizers_are_rejected_at_registration(fields, message):
    plugin = make_plugin(register_regularizers=lambda register: register(
        "bad", fn=lambda D, real, fake, labels: real.sum(), **fields))
    with pytest.raises(GanzooError, match=message):
        host.register_plugin(plugin, "bad")
