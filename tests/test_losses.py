"""Loss values against numbers computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.plugins import get_registry

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_bce_discriminator_loss():
    want = -(math.log(sig(2.0)) + math.log(sig(-1.0))) / 2 - (
        math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0))) / 2
    got = get_registry().get("loss", "bce").d_loss(REAL, FAKE).item()
    assert got == pytest.approx(want, rel=1e-6)
    assert get_registry().get("loss", "bce-ns").d_loss(REAL, FAKE).item() == pytest.approx(want)


def test_bce_generator_losses():
    minimax = (math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0))) / 2
    ns = -(math.log(sig(0.5)) + math.log(sig(-3.0))) / 2
    assert get_registry().get("loss", "bce").g_loss(FAKE, None).item() == pytest.approx(minimax)
    assert get_registry().get("loss", "bce-ns").g_loss(FAKE, None).item() == pytest.approx(ns)


def test_bce_is_stable_on_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    loss = get_registry().get("loss", "bce-ns")
    assert torch.isfinite(loss.d_loss(big, -big)) and torch.isfinite(loss.g_loss(big, None))
