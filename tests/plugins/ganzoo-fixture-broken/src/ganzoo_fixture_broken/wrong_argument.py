"""A hook whose parameter is not the one ganzoo passes (``reg`` instead of ``register``)."""

import ganzoo


@ganzoo.hookimpl
def register_losses(reg):
    reg("never", d_loss=None, g_loss=None)
