"""Registers one valid recipe and four bad ones; only the bad ones are dropped.

``recipe-bad`` (sections that are not mappings) and ``recipe-bad-train`` (a wrong-typed train
field) fail the checks made as they are registered; ``recipe-bad-generator`` (a wrong-typed
generator field) and ``recipe-bad-loss`` (a loss parameter lsgan does not have) fail once
every plugin has registered and the recipes are resolved.
"""

import ganzoo


def _dcgan(**fields):
    return {"generator": {"arch": "ganzoo:dcgan"}, "discriminator": {"arch": "ganzoo:dcgan"},
            **fields}


@ganzoo.hookimpl
def register_recipes(register):
    register("recipe-ok", _dcgan())
    register("recipe-bad", {"generator": "oops", "discriminator": {"arch": "dcgan"},
                            "train": "fast"})
    register("recipe-bad-train", _dcgan(train={"batch": "many"}))
    register("recipe-bad-generator", _dcgan(generator={"arch": "ganzoo:dcgan", "ngf": "wide"}))
    register("recipe-bad-loss", _dcgan(loss={"name": "ganzoo:lsgan", "d": 1}))
