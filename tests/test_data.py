"""Loaders on real files: image folders (with a corrupt file), .npz, IDX, the embedded set."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.data import BatchStream, load_data, load_folder, load_npz
from ganzoo.data.loaders import read_idx
from ganzoo.errors import GanzooError
from ganzoo.host import get_table


def _png(path, size, mode="RGB", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 30, 200)).save(path)


def test_embedded_fashion_mnist():
    data = load_data("fashion-mnist", 32, table=get_table())
    assert data.images.shape == (10000, 1, 32, 32) and data.images.dtype == torch.uint8
    assert data.num_classes == 10 and data.class_names[0] == "T-shirt/top"
    assert 60 < data.images.float().mean() < 90  # mostly dark background, real clothing


def test_folder_with_classes_mixed_sizes_and_a_corrupt_file(tmp_path):
    _png(tmp_path / "cats" / "a.png", (40, 30))
    _png(tmp_path / "cats" / "deep" / "b.jpg", (64, 64))
    _png(tmp_path / "dogs" / "c.webp", (20, 50))
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    warnings = []
    data = load_folder(tmp_path, 16, warn=warnings.append)
    assert data.images.shape == (3, 3, 16, 16)
    assert data.class_names == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 1]
    assert any("broken.png" in w for w in warnings)
    assert abs(int(data.images[0, 0, 8, 8]) - 128) <= 2  # the colour survives the resize


def test_grayscale_folder_gives_one_channel_and_no_labels(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}.png", (28, 28), mode="L", value=10 * i)
    data = load_folder(tmp_path, 32)
    assert data.images.shape == (3, 1, 32, 32) and data.labels is None


def test_empty_folder_and_missing_path(tmp_path):
    with pytest.raises(GanzooError, match="no images found under"):
        load_data(str(tmp_path), 32, table=get_table())
    with pytest.raises(GanzooError, match="no such file or folder"):
        load_data(str(tmp_path / "nope"), 32, table=get_table())


def test_all_corrupt_folder_is_an_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(GanzooError, match="none of the 1 images"):
        load_folder(tmp_path, 32, warn=lambda m: None)


def test_npz_layouts_and_bad_dtype(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "ok.npz", images=x, labels=np.arange(5))
    data = load_npz(tmp_path / "ok.npz")
    assert data.images.shape == (5, 3, 8, 8) and data.labels.tolist() == [0, 1, 2, 3, 4]
    assert torch.equal(data.images[2, 1], torch.from_numpy(x[2, :, :, 1]))
    np.savez(tmp_path / "float.npz", images=x.astype(np.float32))
    with pytest.raises(GanzooError, match="dtype float32; convert to uint8"):
        load_npz(tmp_path / "float.npz")
    np.savez(tmp_path / "shape.npz", images=x[:, :, :, :2])
    with pytest.raises(GanzooError, match="has shape"):
        load_npz(tmp_path / "shape.npz")


def test_idx_round_trip_and_truncation(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), arr)
    (tmp_path / "b-idx3-ubyte").write_bytes(raw[:-3])
    with pytest.raises(GanzooError, match="truncated"):
        read_idx(tmp_path / "b-idx3-ubyte")


def test_batch_stream_is_resumable_and_shards():
    data = load_data("fashion-mnist", 16, table=get_table())
    a = BatchStream(data, 8, seed=3)
    batches = [a.next()[0] for _ in range(5)]
    b = BatchStream(data, 8, seed=3)
    b.position = 3
    assert torch.equal(b.next()[0], batches[3])
    assert batches[0].min() >= -1 and batches[0].max() <= 1
    r0, r1 = BatchStream(data, 4, 3, rank=0, world=2), BatchStream(data, 4, 3, rank=1, world=2)
    assert torch.equal(torch.cat([r0.next()[0], r1.next()[0]]), batches[0])
