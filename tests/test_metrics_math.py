"""Metric maths against closed forms and independent references; the shipped extractors."""

from __future__ import annotations

import gzip
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics import (
    FIDInceptionV3,
    feature_statistics,
    file_sha256,
    frechet_distance,
    inception_score,
    kernel_distance,
    load_fmnist_extractor,
    load_inception,
    precision_recall,
)
from ganzoo.metrics.fmnist import FMNIST_WEIGHTS_PATH
from ganzoo.metrics.inception import convert_command

FMNIST_DIR = Path(__file__).resolve().parents[1] / "ganzoo" / "data" / "fashion_mnist"


def _read_idx_gz(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


# --------------------------------------------------------------------------------------------
# Fréchet distance
# --------------------------------------------------------------------------------------------


def test_frechet_distance_equals_closed_form_for_commuting_covariances():
    # With S1 = Q diag(a) Q^T and S2 = Q diag(b) Q^T, d² = |mu1-mu2|² + Σ (√a - √b)².
    rng = np.random.default_rng(1)
    d = 12
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a, b = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    for rot in (np.eye(d), q):
        s1, s2 = rot @ np.diag(a) @ rot.T, rot @ np.diag(b) @ rot.T
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_on_random_features():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(2)
    real = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    fake = rng.normal(size=(300, 16)) * 1.5 + 0.3
    mu1, s1 = feature_statistics(real)
    mu2, s2 = feature_statistics(torch.from_numpy(fake).float())
    assert s1.dtype == np.float64 and mu1.shape == (16,) and s1.shape == (16, 16)
    np.testing.assert_allclose(s1, np.cov(real, rowvar=False), rtol=1e-12)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_is_stable_for_singular_covariances():
    # 10 samples in 64 dimensions: rank-9 covariances, where a naive sqrtm goes complex;
    # the distance of a set to itself must come out at round-off level.
    rng = np.random.default_rng(3)
    mu, sigma = feature_statistics(rng.normal(size=(10, 64)))
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9
    mu2, sigma2 = feature_statistics(rng.normal(size=(10, 64)) + 1.0)
    fd = frechet_distance(mu, sigma, mu2, sigma2)
    assert np.isfinite(fd) and fd > 0


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(GanzooError, match="same D"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(GanzooError, match="at least 2"):
        feature_statistics(np.zeros((1, 5)))


# --------------------------------------------------------------------------------------------
# Kernel distance
# --------------------------------------------------------------------------------------------


def _kid_reference(real, fake, num_subsets, subset_size, seed):
    """Element-by-element unbiased MMD², drawing subsets as kernel_distance documents."""
    m = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    d = real.shape[1]

    def k(u, v):
        return (float(np.dot(u, v)) / d + 1.0) ** 3

    scores = []
    for _ in range(num_subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
        scores.append(xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m))
    return np.mean(scores), np.std(scores)


def test_kernel_distance_matches_elementwise_reference():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(40, 6))
    fake = rng.normal(size=(35, 6)) * 1.3 + 0.4
    # subset_size larger than either set is clipped to the smaller count (35).
    for subset_size in (12, 1000):
        mean, std = kernel_distance(real, fake, num_subsets=4, subset_size=subset_size, seed=7)
        ref_mean, ref_std = _kid_reference(real, fake, 4, subset_size, 7)
        assert mean == pytest.approx(ref_mean, rel=1e-10)
        assert std == pytest.approx(ref_std, rel=1e-8)
    assert mean > 0.05


def test_kernel_distance_is_near_zero_for_one_distribution():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same = kernel_distance(real, fake, num_subsets=20, subset_size=100)
    shifted = kernel_distance(real, fake + 0.5, num_subsets=20, subset_size=100)
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert shifted.mean > 10 * abs(same.mean)


# --------------------------------------------------------------------------------------------
# Inception score
# --------------------------------------------------------------------------------------------


def test_inception_score_hand_computed_cases():
    uniform = np.full((50, 10), 0.1)
    assert inception_score(uniform, splits=5).mean == pytest.approx(1.0)
    one_hot = np.tile(np.eye(10), (2, 1))  # every class once per split
    score = inception_score(torch.from_numpy(one_hot), splits=2)
    assert score.mean == pytest.approx(10.0) and score.std == pytest.approx(0.0, abs=1e-12)
    p = np.array([[0.9, 0.1], [0.1, 0.9]])
    expected = np.exp(0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5))
    assert inception_score(p, splits=1).mean == pytest.approx(expected, rel=1e-12)
    # One confident class for everything: no diversity, score 1.
    assert inception_score(np.tile([1.0, 0.0, 0.0], (6, 1)), splits=2).mean == pytest.approx(1.0)


def test_inception_score_rejects_logits_and_bad_splits():
    with pytest.raises(GanzooError, match="softmax"):
        inception_score(np.random.default_rng(0).normal(size=(8, 4)), splits=2)
    with pytest.raises(GanzooError, match="splits"):
        inception_score(np.full((4, 2), 0.5), splits=5)


# --------------------------------------------------------------------------------------------
# Precision / recall
# --------------------------------------------------------------------------------------------


def _pr_reference(real, fake, k):
    def sq(a, b):
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    r_real = np.sort(sq(real, real), axis=1)[:, k]
    r_fake = np.sort(sq(fake, fake), axis=1)[:, k]
    d = sq(real, fake)
    precision = (d <= r_real[:, None]).any(axis=0).mean()
    recall = (d <= r_fake[None, :]).any(axis=1).mean()
    return precision, recall


def test_precision_recall_matches_brute_force_and_is_batch_invariant():
    rng = np.random.default_rng(6)
    real = rng.normal(size=(150, 5))
    fake = rng.normal(size=(120, 5)) * 1.4 + 0.3
    expected = _pr_reference(real, fake, k=3)
    assert precision_recall(real, fake, k=3) == pytest.approx(expected)
    assert precision_recall(real, fake, k=3, batch_size=7) == pytest.approx(expected)
    t_real, t_fake = torch.from_numpy(real).float(), torch.from_numpy(fake).float()
    assert precision_recall(t_real, t_fake, k=3) == pytest.approx(expected, abs=0.02)


def test_precision_recall_limits():
    rng = np.random.default_rng(7)
    feats = rng.normal(size=(200, 4))
    assert precision_recall(feats, feats.copy()) == (1.0, 1.0)
    assert precision_recall(feats, feats + 100.0) == (0.0, 0.0)


def test_precision_recall_half_the_modes_missing():
    rng = np.random.default_rng(8)
    centres = np.eye(4) * 20.0
    real = np.concatenate([c + rng.normal(size=(100, 4)) for c in centres])
    fake = np.concatenate([c + rng.normal(size=(200, 4)) for c in centres[:2]])
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.9
    assert recall == pytest.approx(0.5, abs=0.06)


# --------------------------------------------------------------------------------------------
# Fashion-MNIST extractor
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fmnist_test_images() -> tuple[torch.Tensor, torch.Tensor]:
    images = _read_idx_gz(FMNIST_DIR / "t10k-images-idx3-ubyte.gz")[:400]
    labels = _read_idx_gz(FMNIST_DIR / "t10k-labels-idx1-ubyte.gz")[:400]
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def test_fmnist_extractor_classifies_real_test_images(fmnist_test_images):
    model = load_fmnist_extractor()
    x, y = fmnist_test_images
    with torch.no_grad():
        acc = (model.logits(x).argmax(1) == y).float().mean().item()
        # A 32-px generator's output goes through the internal resize.
        x32 = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear")
        acc32 = (model.logits(x32).argmax(1) == y).float().mean().item()
        feats = model.features(x[:8])
    assert acc >= 0.85, acc
    assert acc32 >= 0.85, acc32
    assert feats.shape == (8, model.feature_dim) and not feats.requires_grad


def test_fmnist_extractor_rejects_tampered_weights(tmp_path):
    tampered = tmp_path / "fmnist.safetensors"
    shutil.copy(FMNIST_WEIGHTS_PATH, tampered)
    blob = bytearray(tampered.read_bytes())
    blob[-100] ^= 0x01  # one flipped bit inside the tensor data
    tampered.write_bytes(bytes(blob))
    with pytest.raises(GanzooError, match="sha256") as info:
        load_fmnist_extractor(tampered)
    assert str(tampered) in str(info.value)
    with pytest.raises(GanzooError, match="not found"):
        load_fmnist_extractor(tmp_path / "missing.safetensors")


def test_fmnist_extractor_rejects_rgb_and_unbatched_input():
    model = load_fmnist_extractor()
    with pytest.raises(GanzooError, match="grayscale"):
        model.features(torch.zeros(2, 3, 28, 28))
    with pytest.raises(GanzooError, match="batch"):
        model.features(torch.zeros(1, 28, 28))


# --------------------------------------------------------------------------------------------
# FID Inception
# --------------------------------------------------------------------------------------------


def test_load_inception_missing_or_wrong_file_says_what_to_do(tmp_path):
    missing = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    with pytest.raises(GanzooError, match="not found") as info:
        load_inception(missing)
    assert str(missing) in str(info.value) and "pt_inception-2015-12-05" in str(info.value)
    wrong = tmp_path / "inception.pth"
    wrong.write_bytes(b"not the inception weights")
    with pytest.raises(GanzooError, match="6726825d") as info:
        load_inception(wrong)
    assert str(wrong) in str(info.value) and file_sha256(wrong) in str(info.value)
    with pytest.raises(GanzooError, match="hex"):
        load_inception(wrong, expected_sha256="abc")


def test_load_inception_round_trip_from_safetensors(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    source = FIDInceptionV3()
    path = tmp_path / "inception.safetensors"
    save_file(source.state_dict(), str(path))
    model = load_inception(path)  # a conversion: checked tensor by tensor
    loaded = model.state_dict()
    assert load_inception(path, expected_sha256=file_sha256(path)[:8]) is not None
    with pytest.raises(GanzooError, match="sha256"):
        load_inception(path, expected_sha256="00000000")
    assert all(torch.equal(v, loaded[k]) for k, v in source.state_dict().items())
    # One full-size forward (the input is resized to 299 inside): the graph ends in 2048-d.
    with torch.no_grad():
        feats = model.features(torch.rand(1, 1, 32, 32) * 2 - 1)
    assert feats.shape == (1, 2048) and torch.isfinite(feats).all()


def test_inception_matches_torchvision_layout_and_loads_its_pth(tmp_path):
    # The pytorch-fid file is a torchvision InceptionV3 state dict (1008 classes, no aux
    # logits); a file with exactly that layout, saved with torch.save, must load.
    models = pytest.importorskip("torchvision.models")
    reference = models.inception_v3(
        weights=None, aux_logits=False, num_classes=1008, init_weights=False
    )
    ours = FIDInceptionV3().state_dict()
    theirs = reference.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        k: tuple(v.shape) for k, v in theirs.items()
    }
    # ganzoo refuses the .pth (a pickle) and answers with the conversion a user runs once in
    # their own Python; the .safetensors it writes loads
    pth = tmp_path / "pt_inception.pth"
    torch.save(theirs, pth)
    with pytest.raises(GanzooError, match="reads weights only from .safetensors") as info:
        load_inception(pth, expected_sha256=file_sha256(pth)[:8])
    command = str(info.value).split("in your own Python: ")[1].split(", then pass")[0]
    assert command == convert_command(pth)
    python, flag, code = shlex.split(command)
    assert (python, flag) == ("python", "-c")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    model = load_inception(pth.with_suffix(".safetensors"))
    # With our mixed blocks swapped in (checked block by block below), torchvision's forward
    # checks the stem, the block order and the pooling end to end.  Default-initialised
    # activations shrink to ~1e-6 by the last block, so compare relative to their scale.
    for name, child in model.named_children():
        if name.startswith("Mixed_"):
            setattr(reference, name, child)
    reference.fc = torch.nn.Identity()
    # A 1-channel 32-px image: features() must repeat channels and resize like pytorch-fid.
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    x299 = torch.nn.functional.interpolate(
        x.repeat(1, 3, 1, 1), size=(299, 299), mode="bilinear", align_corners=False
    )
    with torch.no_grad():
        expected = reference.eval()(x299)
        got = model.features(x)
    scale = expected.abs().max()
    assert scale > 0 and (expected > 0).float().mean() > 0.5
    torch.testing.assert_close(got / scale, expected / scale)


def _randomise_bn(module: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)


def test_inception_blocks_match_torchvision_with_fid_pool_branches():
    # FID's mixed blocks equal torchvision's except for the pool branch (always the last
    # channels): average pools that ignore padding, and a max pool in Mixed_7c.  So the
    # expected output is torchvision's with that branch recomputed the FID way.
    inception = pytest.importorskip("torchvision.models.inception")
    F = torch.nn.functional

    def avg(x):
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)

    def mx(x):
        return F.max_pool2d(x, 3, stride=1, padding=1)

    ours = FIDInceptionV3()
    cases = [
        ("Mixed_5b", inception.InceptionA(192, pool_features=32), 192, 9, avg),
        ("Mixed_6a", inception.InceptionB(288), 288, 9, None),
        ("Mixed_6b", inception.InceptionC(768, channels_7x7=128), 768, 7, avg),
        ("Mixed_7a", inception.InceptionD(768), 768, 9, None),
        ("Mixed_7b", inception.InceptionE(1280), 1280, 5, avg),
        ("Mixed_7c", inception.InceptionE(2048), 2048, 5, mx),
    ]
    torch.manual_seed(0)
    for name, theirs, channels, size, pool in cases:
        _randomise_bn(theirs)
        theirs.eval()
        mine = getattr(ours, name).eval()
        mine.load_state_dict(theirs.state_dict())
        x = torch.randn(1, channels, size, size)
        with torch.no_grad():
            got, expected = mine(x), theirs(x)
            if pool is not None:
                fid_pool = theirs.branch_pool(pool(x))
                assert not torch.allclose(expected[:, -fid_pool.shape[1] :], fid_pool), name
                expected[:, -fid_pool.shape[1] :] = fid_pool
        torch.testing.assert_close(got, expected, msg=name)
