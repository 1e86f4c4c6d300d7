"""The one training core: every recipe trains through :func:`ganzoo.train.loop.train`.

Importing this package loads nothing; reading a run (sample, export, eval) never needs the
trainer.
"""
