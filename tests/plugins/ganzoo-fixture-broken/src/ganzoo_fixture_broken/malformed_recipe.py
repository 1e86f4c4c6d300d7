"""Registers one valid recipe, then one whose sections are not mappings."""

import ganzoo


@ganzoo.hookimpl
def register_recipes(register):
    register("recipe-ok", {"generator": {"arch": "dcgan"}, "discriminator": {"arch": "dcgan"}})
    register("recipe-bad", {"generator": "oops", "discriminator": {"arch": "dcgan"},
                            "train": "fast"})
