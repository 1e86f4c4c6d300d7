"""A hook that raises while registering, after registering one good dataset."""

import ganzoo


def load(resolution):
    raise AssertionError("never loaded")


@ganzoo.hookimpl
def register_datasets(register):
    register("raises-first", load=load)
    raise RuntimeError("the dataset server is down")
