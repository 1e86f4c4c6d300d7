"""Built-in feature extractors: the shipped Fashion-MNIST classifier and FID's Inception.

``fmnist`` works offline on the default data; its scores are named for it (``fd-fmnist``,
never "FID") because they compare only with other ``fd-fmnist`` numbers. ``inception`` is the
pytorch-fid network, read from a local file the user names: it reports ``fid``/``kid``/``is``
only when the file's weights are pytorch-fid's (their sha256 is the reference one); any other
weights of the same shape score as ``fd-inception-unverified`` and so on, with a warning.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.hooks import hookimpl
from ganzoo.hooktypes import RegisterFeatureExtractor
from ganzoo.metrics.fmnist import FMNIST_WEIGHTS_SHA256, load_fmnist_extractor
from ganzoo.metrics.inception import (
    FID_INCEPTION_FILENAME,
    FID_INCEPTION_WEIGHTS_SHA256,
    load_inception,
)

INCEPTION_ENV = "GANZOO_INCEPTION_WEIGHTS"
REFERENCE_NAMES = {"fd": "fid", "kd": "kid", "is": "is", "precision": "precision",
                   "recall": "recall"}
#: What scores of Inception weights other than pytorch-fid's are called: never FID.
UNVERIFIED_NAMES = {m: f"{m}-inception-unverified" for m in REFERENCE_NAMES}


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
    model.sha256 = model.weights_sha256  # recorded in every score's protocol
    if not model.is_reference:
        model.score_names = UNVERIFIED_NAMES
        known = (f"pytorch-fid's are {FID_INCEPTION_WEIGHTS_SHA256[:12]}"
                 if FID_INCEPTION_WEIGHTS_SHA256 else
                 "this ganzoo has no reference digest recorded to compare them with")
        print(f"warning: {path}: these Inception weights (sha256 {model.sha256[:12]}) are not "
              f"verified as pytorch-fid's ({known}); their scores are named "
              f"{UNVERIFIED_NAMES['fd']}, {UNVERIFIED_NAMES['kd']} and "
              f"{UNVERIFIED_NAMES['is']}, not fid/kid/is, and compare only with scores of the "
              "same weights", file=sys.stderr)
    return model


@hookimpl
def register_feature_extractors(register: RegisterFeatureExtractor) -> None:
    register("fmnist", load=_load_fmnist, sha256=FMNIST_WEIGHTS_SHA256, channels=(1,),
             resize="antialiased bilinear to 28x28",
             description="ganzoo's Fashion-MNIST CNN (92.15% held-out), 128-d features; "
                         "shipped, offline; scores comparable only with other *-fmnist ones")
    register("inception", load=_load_inception, channels=(1, 3),
             resize="bilinear to 299x299 (pytorch-fid)",
             score_names=REFERENCE_NAMES,
             description="FID InceptionV3 (pytorch-fid weights from a local file: "
                         f"--inception-weights or {INCEPTION_ENV}); 2048-d pool3 features")
