"""Declares that its loss replaces a built-in that does not exist (``ganzoo:phantom``)."""

import torch.nn.functional as F

import ganzoo


@ganzoo.hookimpl
def register_losses(register):
    register("phantom", d_loss=lambda r, f: F.softplus(f).mean(),
             g_loss=lambda f, r: F.softplus(-f).mean(), replaces="ganzoo:phantom")
