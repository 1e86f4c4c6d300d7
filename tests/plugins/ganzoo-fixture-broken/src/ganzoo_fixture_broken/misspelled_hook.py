"""A hook name with a typo (``register_architecture`` without the s)."""

import ganzoo


@ganzoo.hookimpl
def register_architecture(register):
    register("never")
