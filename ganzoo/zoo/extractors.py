"""Built-in feature extractors: the shipped Fashion-MNIST classifier and FID's Inception.

``fmnist`` works offline on the default data; its scores are named for it (``fd-fmnist``,
never "FID") because they compare only with other ``fd-fmnist`` numbers. ``inception`` is the
pytorch-fid network, read from a local file the user names, and reports ``fid``/``kid``/``is``.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterFeatureExtractor
from ganzoo.metrics.fmnist import FMNIST_WEIGHTS_SHA256, load_fmnist_extractor
from ganzoo.metrics.inception import FID_INCEPTION_FILENAME, load_inception
from ganzoo.metrics.networks import file_sha256

INCEPTION_ENV = "GANZOO_INCEPTION_WEIGHTS"


def _load_fmnist(device: str | torch.device = "cpu", **options: Any) -> torch.nn.Module:
    if options:
        raise GanzooError(f"the fmnist extractor takes no options, got {', '.join(options)}; "
                          "--inception-weights is for --extractor inception")
    return load_fmnist_extractor(device=device)


def _load_inception(device: str | torch.device = "cpu", weights: str | None = None,
                    **options: Any) -> torch.nn.Module:
    if options:
        raise GanzooError(f"the inception extractor takes only 'weights', got "
                          f"{', '.join(options)}")
    path = weights or os.environ.get(INCEPTION_ENV, "").strip()
    if not path:
        raise GanzooError(
            f"the inception extractor needs the FID Inception weights file: pass "
            f"--inception-weights PATH or set {INCEPTION_ENV}=PATH (download "
            f"{FID_INCEPTION_FILENAME} once from the pytorch-fid releases; ganzoo downloads "
            "nothing), or use --extractor fmnist")
    model = load_inception(path, device=device)
    model.sha256 = file_sha256(os.path.expanduser(path))
    return model


@hookimpl
def register_feature_extractors(register: RegisterFeatureExtractor) -> None:
    register("fmnist", load=_load_fmnist, sha256=FMNIST_WEIGHTS_SHA256, channels=(1,),
             resize="antialiased bilinear to 28x28",
             description="ganzoo's Fashion-MNIST CNN (92.15% held-out), 128-d features; "
                         "shipped, offline; scores comparable only with other *-fmnist ones")
    register("inception", load=_load_inception, channels=(1, 3),
             resize="bilinear to 299x299 (pytorch-fid)",
             score_names={"fd": "fid", "kd": "kid", "is": "is", "precision": "precision",
                          "recall": "recall"},
             description="FID InceptionV3 (pytorch-fid weights from a local file: "
                         f"--inception-weights or {INCEPTION_ENV}); 2048-d pool3 features")
