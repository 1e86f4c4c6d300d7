"""Provides a loss ``bce-ns`` that explicitly replaces the built-in one."""

import torch.nn.functional as F

import ganzoo


@ganzoo.hookimpl
def register_losses(register):
    register("bce-ns", d_loss=lambda r, f: (F.softplus(-r) + F.softplus(f)).mean(),
             g_loss=lambda f, r: F.softplus(-f).mean(), description="bce-ns, re-implemented",
             replaces="ganzoo:bce-ns")
