"""Evaluation metrics: the maths (FD, KD, IS, precision/recall) and the feature extractors.

Typical use: run real and generated images through one extractor's ``features`` (and
``logits`` for IS), then hand the arrays to the maths functions.
"""

from ganzoo.metrics.fmnist import FMNIST_WEIGHTS_SHA256, FMNISTClassifier, load_fmnist_extractor
from ganzoo.metrics.inception import (
    FID_INCEPTION_FILENAME,
    FID_INCEPTION_SHA256_PREFIX,
    FIDInceptionV3,
    load_inception,
)
from ganzoo.metrics.maths import (
    MeanStd,
    PrecisionRecall,
    feature_statistics,
    frechet_distance,
    inception_score,
    kernel_distance,
    precision_recall,
)
from ganzoo.metrics.networks import FeatureExtractor, file_sha256

__all__ = [
    "FID_INCEPTION_FILENAME",
    "FID_INCEPTION_SHA256_PREFIX",
    "FMNIST_WEIGHTS_SHA256",
    "FIDInceptionV3",
    "FMNISTClassifier",
    "FeatureExtractor",
    "MeanStd",
    "PrecisionRecall",
    "feature_statistics",
    "file_sha256",
    "frechet_distance",
    "inception_score",
    "kernel_distance",
    "load_fmnist_extractor",
    "load_inception",
    "precision_recall",
]
