"""ganzoo.runtime: exported generators on onnxruntime + numpy, with torch out of the picture."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from ganzoo import runtime
from ganzoo.errors import GanzooError
from ganzoo.export import export_generator
from ganzoo.host import get_table
from ganzoo.images import to_uint8
from ganzoo.latents import sample_latents
from ganzoo.loading import load_generator_file
from ganzoo.store.optimized_graph import CACHE_DEFAULT, CACHE_ENV, cache_path, cache_setting
from tests.conftest import ROOT, run_cli
from tests.helpers.cli_batch import READ_ONLY_FAILED
from tests.test_export import write_generator


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports shared by this module: an unconditional DCGAN (the default exporter), its uint8
    variant and a conditional spectral-norm generator (the fast TorchScript exporter)."""
    from tests.helpers.export_plugins import extra_architectures

    root = tmp_path_factory.mktemp("runtime")
    models = {}
    write_generator(root / "dcgan" / "generator.safetensors", "dcgan")
    models["dcgan"] = export_generator(root / "dcgan" / "generator.safetensors",
                                       table=get_table()).onnx_path
    models["uint8"] = export_generator(root / "dcgan" / "generator.safetensors", root / "uint8",
                                       uint8=True, exporters=("torchscript",),
                                       table=get_table()).onnx_path
    with extra_architectures():
        st = root / "cond" / "generator.safetensors"
        write_generator(st, "exporttests:tiny-cond-sn", num_classes=5)
        models["cond"] = export_generator(st, exporters=("torchscript",),
                                          table=get_table()).onnx_path
        models["cond_torch"] = load_generator_file(st, table=get_table())[0]
    models["dcgan_torch"] = load_generator_file(root / "dcgan" / "generator.safetensors",
                                                table=get_table())[0]
    return models


def torch_images(G, z, labels=None):
    with torch.no_grad():
        return G(torch.from_numpy(z), None if labels is None else torch.from_numpy(labels)).numpy()


def test_runtime_runs_with_torch_unimportable(exported, tmp_path):
    out = tmp_path / "images.npy"
    code = f"""
import sys
sys.modules["torch"] = None  # any 'import torch' now raises ImportError
import numpy as np
import ganzoo, ganzoo.runtime
gen = ganzoo.runtime.Generator({str(exported["dcgan"])!r})
np.save({str(out)!r}, gen.generate(9, seed=4))
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
assert loaded == ["torch"] and sys.modules["torch"] is None, loaded
print(gen)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ganzoo:dcgan, nz=16, 16px x 3" in proc.stdout
    want = torch_images(exported["dcgan_torch"], sample_latents(9, 16, 4))
    assert np.abs(np.load(out) - want).max() <= 1e-4


def test_generate_batches_binds_and_converts(exported):
    gen = runtime.Generator(exported["dcgan"])
    assert gen.provider == "CPUExecutionProvider" and gen.io_binding is False
    assert gen.metadata.nz == 16 and gen.metadata.output_layout == "NCHW"
    whole = gen.generate(7, seed=2)
    assert whole.shape == (7, 3, 16, 16) and whole.dtype == np.float32
    split = runtime.Generator(exported["dcgan"], batch_size=3, threads=1).generate(7, seed=2)
    bound = runtime.Generator(exported["dcgan"], io_binding=True).generate(7, seed=2)
    assert np.abs(split - whole).max() <= 1e-6 and np.abs(bound - whole).max() <= 1e-6
    assert np.abs(whole - torch_images(exported["dcgan_torch"],
                                       sample_latents(7, 16, 2))).max() <= 1e-4
    assert gen.generate(0).shape == (0, 3, 16, 16)
    pictures = gen.images(3, seed=2)
    assert [(p.mode, p.size) for p in pictures] == [("RGB", (16, 16))] * 3
    assert np.array_equal(np.asarray(pictures[1]), gen.to_uint8(whole)[1])


def test_uint8_model_gives_pixels(exported):
    gen = runtime.Generator(exported["uint8"])
    pixels = gen.generate(4, seed=2)
    assert pixels.shape == (4, 16, 16, 3) and pixels.dtype == np.uint8
    floats = runtime.Generator(exported["dcgan"]).generate(4, seed=2)
    assert np.abs(pixels.astype(int) - to_uint8(floats).astype(int)).max() <= 1
    assert np.array_equal(gen.to_uint8(pixels), pixels) and gen.images(1)[0].size == (16, 16)


def test_conditional_generator_takes_labels(exported):
    gen = runtime.Generator(exported["cond"])
    assert gen.metadata.conditional and gen.metadata.num_classes == 5
    z = sample_latents(6, 16, 1)
    labels = np.array([0, 1, 2, 3, 4, 2])
    want = torch_images(exported["cond_torch"], z, labels)
    assert np.abs(gen.run(z, labels) - want).max() <= 1e-4
    all_two = gen.generate(6, seed=1, class_index=2)
    assert np.abs(all_two - torch_images(exported["cond_torch"], z, np.full(6, 2))).max() <= 1e-4
    with pytest.raises(GanzooError, match="class-conditional .5 classes.: pass labels"):
        gen.run(z)
    with pytest.raises(GanzooError, match=r"labels must be 6 integers \(shape \[6\]\)"):
        gen.run(z, labels[:3])
    with pytest.raises(GanzooError, match="labels must be in 0..4, got 0..7"):
        gen.run(z, np.array([0, 1, 2, 3, 4, 7]))
    with pytest.raises(GanzooError, match="--class must be in 0..4, got 5"):
        gen.generate(2, class_index=5)
    with pytest.raises(GanzooError, match="not class-conditional"):
        runtime.Generator(exported["dcgan"]).run(np.zeros((2, 16)), labels[:2])


def test_wrong_input_shapes_are_clear_errors(exported):
    gen = runtime.Generator(exported["dcgan"])
    for bad in (np.zeros(16), np.zeros((2, 15)), np.zeros((2, 16, 1))):
        with pytest.raises(GanzooError, match=r"z must have shape \[N, 16\]"):
            gen.run(bad)
    with pytest.raises(GanzooError, match="z must be a float array"):
        gen.run([["a"] * 16])
    with pytest.raises(GanzooError, match="seed must be an integer from 0"):
        gen.generate(2, seed=-1)


def test_non_finite_latents_are_refused_and_other_dtypes_are_cast(exported):
    """NaN/Inf latents (or float64 ones beyond float32's range) would make NaN images without
    a word: refused. float64, float16 and int64 latents are cast to float32 as documented."""
    gen = runtime.Generator(exported["dcgan"])
    z = sample_latents(3, 16, seed=1)
    for value, why in ((np.nan, "NaN or Inf"), (np.inf, "NaN or Inf"),
                       (1e300, r"values beyond float32's range \(float64 cast to float32\)")):
        bad = z.astype(np.float64)
        bad[2, 5] = value
        with pytest.raises(GanzooError, match=rf"z holds {why} \(first in row 2 of 3\)"):
            gen.run(bad)
    with pytest.raises(GanzooError, match="got dtype complex128"):
        gen.run(z.astype(np.complex128))
    with pytest.raises(GanzooError, match="got dtype bool"):
        gen.run(z > 0)
    expected = gen.run(z)
    np.testing.assert_array_equal(gen.run(z.astype(np.float64)), expected)
    half = z.astype(np.float16)
    np.testing.assert_array_equal(gen.run(half), gen.run(half.astype(np.float32)))
    ints = np.rint(z).astype(np.int64)
    np.testing.assert_array_equal(gen.run(ints), gen.run(ints.astype(np.float32)))


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(GanzooError, match="does not exist; export a generator"):
        runtime.Generator(tmp_path / "missing.onnx")
    with pytest.raises(GanzooError, match="is a folder"):
        runtime.Generator(tmp_path)
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model")
    with pytest.raises(GanzooError, match="is not a loadable ONNX model"):
        runtime.Generator(text)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["z"], ["images"])], "plain",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    plain = tmp_path / "plain.onnx"
    onnx.save(model, str(plain))
    with pytest.raises(GanzooError, match="not a ganzoo generator .no ganzoo metadata."):
        runtime.Generator(plain)
    helper.set_model_props(model, {"format": "ganzoo-generator-onnx/1", "nz": "four"})
    onnx.save(model, str(plain))
    with pytest.raises(GanzooError, match="ganzoo metadata lacks"):
        runtime.Generator(plain)
    proc = run_cli("generate", str(tmp_path / "missing.onnx"), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "does not exist" in (
        proc.stderr)


def test_several_onnxruntime_packages_are_detected(exported, tmp_path, monkeypatch):
    dist = tmp_path / "onnxruntime_gpu-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: onnxruntime-gpu\n"
                                   "Version: 0.0.1\n")
    assert "onnxruntime-gpu" not in runtime.installed_onnxruntime()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert runtime.installed_onnxruntime()["onnxruntime-gpu"] == "0.0.1"
    message = runtime.onnxruntime_conflict()
    assert "several onnxruntime packages" in message and "onnxruntime-gpu 0.0.1" in message
    assert "pip uninstall -y onnxruntime onnxruntime-gpu" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runtime.Generator(exported["dcgan"])
    assert any("several onnxruntime packages" in str(w.message) for w in caught)
    with pytest.raises(GanzooError, match="no CUDA provider .* several onnxruntime packages"):
        runtime.Generator(exported["dcgan"], device="cuda")


def test_device_and_options_are_checked(exported):
    with pytest.raises(GanzooError, match="device must be auto, cpu, cuda or cuda:N"):
        runtime.Generator(exported["dcgan"], device="tpu")
    with pytest.raises(GanzooError, match="batch_size must be at least 1"):
        runtime.Generator(exported["dcgan"], batch_size=0)
    if "CUDAExecutionProvider" not in __import__("onnxruntime").get_available_providers():
        with pytest.raises(GanzooError, match="no CUDA provider"):
            runtime.Generator(exported["dcgan"], device="cuda:0")


# -- the optimised-graph cache ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_models(exported, tmp_path_factory):
    """The module's exports plus an int8 one (where onnxruntime's rewrite does the most)."""
    root = tmp_path_factory.mktemp("cache-models")
    write_generator(root / "int8" / "generator.safetensors", "dcgan")
    int8 = export_generator(root / "int8" / "generator.safetensors", quantize="int8",
                            calibration=16, quality_count=16, exporters=("torchscript",),
                            table=get_table()).onnx_path
    return {"dcgan": exported["dcgan"], "uint8": exported["uint8"], "cond": exported["cond"],
            "int8": int8}


def model_in(folder, source):
    """A copy of ``source`` as ``folder/generator.onnx``, alone in its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "generator.onnx"
    shutil.copyfile(source, path)
    return path


def cached_images(path, cache):
    gen = runtime.Generator(path, device="cpu", threads=1, cache=cache)
    labels = np.arange(7) % gen.metadata.num_classes if gen.metadata.conditional else None
    return gen, gen.run(sample_latents(7, gen.metadata.nz, 3), labels)


@pytest.mark.parametrize("name", ["dcgan", "uint8", "cond", "int8"])
def test_optimised_graph_is_cached_next_to_the_model_and_reused(cache_models, tmp_path, name):
    import onnxruntime as ort

    path = model_in(tmp_path / name, cache_models[name])
    plain, want = cached_images(path, False)
    assert plain.cache_state == "off" and plain.cache_path is None
    assert sorted(p.name for p in path.parent.iterdir()) == ["generator.onnx"]

    writer, written = cached_images(path, True)
    cache = writer.cache_path
    assert writer.cache_state == "written" and cache.parent == path.parent
    assert cache.name.startswith(f"generator.optimized-ort{ort.__version__}-cpu-")
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(["generator.onnx",
                                                                     cache.name])
    assert cache.read_bytes() != path.read_bytes()  # onnxruntime's rewrite, not a copy
    before = cache.stat().st_mtime_ns

    reader, read = cached_images(path, True)
    assert reader.cache_state == "loaded" and reader.cache_path == cache
    assert cache.stat().st_mtime_ns == before
    assert reader.metadata == plain.metadata
    np.testing.assert_array_equal(written, want)
    np.testing.assert_array_equal(read, want)


def test_a_damaged_cache_falls_back_to_the_model_and_is_replaced(cache_models, tmp_path):
    path = model_in(tmp_path / "m", cache_models["dcgan"])
    _, want = cached_images(path, False)
    cache = cache_path(path, __import__("onnxruntime").__version__)
    good = cached_images(path, True)[0].cache_path.read_bytes()
    for damage in (b"not a model", good[: len(good) // 2], b""):
        cache.write_bytes(damage)
        gen, images = cached_images(path, True)
        assert gen.cache_state == "written", damage[:20]
        np.testing.assert_array_equal(images, want)
        assert cache.read_bytes() == good
        assert cached_images(path, True)[0].cache_state == "loaded"
    # a ganzoo-less graph under the cache's name: not a generator, so replaced too
    plain = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["z"], ["images"])], "plain",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 16])]),
        opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(plain, str(cache))
    gen, images = cached_images(path, True)
    assert gen.cache_state == "written" and cache.read_bytes() == good
    np.testing.assert_array_equal(images, want)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(["generator.onnx",
                                                                     cache.name])


def test_a_changed_model_drops_its_old_caches_only(cache_models, tmp_path):
    version = __import__("onnxruntime").__version__
    path = model_in(tmp_path / "m", cache_models["dcgan"])

    def elsewhere(cache):  # the same model's cache on another CPU, and another onnxruntime
        return [cache.with_name(cache.name[:-len("0123abcd.onnx")] + "0123abcd.onnx"),
                cache.with_name(cache.name.replace(f"-ort{version}-", "-ort0.1.0-"))]

    old = cached_images(path, True)[0].cache_path
    shutil.copyfile(cache_models["uint8"], path)  # the model is re-exported in place
    new = cache_path(path, version)
    kept = [*elsewhere(new), path.parent / "notes.optimized-ort1-cpu-0123456789ab-0123abcd.onnx"]
    for stale in elsewhere(old) + kept:
        stale.write_bytes(b"a cached graph")
    gen, _ = cached_images(path, True)
    assert gen.cache_state == "written" and gen.cache_path == new != old
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        ["generator.onnx", new.name, *(p.name for p in kept)])


def test_a_read_only_folder_runs_without_a_cache(cache_models, tmp_path):
    """In a read-only folder (a read-only bind mount as root): no cache is written and nothing
    fails; a cache already there is still read."""
    bare = model_in(tmp_path / "bare", cache_models["dcgan"])
    warm = model_in(tmp_path / "warm", cache_models["dcgan"])
    cache = cached_images(warm, True)[0].cache_path
    _, want = cached_images(bare, False)
    code = f"""
import json, sys
from tests.helpers.cli_batch import make_read_only
make_read_only([{str(bare.parent)!r}, {str(warm.parent)!r}])
import numpy as np
from ganzoo import runtime
from ganzoo.latents import sample_latents
states = []
for path, out in (({str(bare)!r}, {str(tmp_path / "bare.npy")!r}),
                  ({str(warm)!r}, {str(tmp_path / "warm.npy")!r})):
    gen = runtime.Generator(path, device="cpu", threads=1, cache=True)
    np.save(out, gen.run(sample_latents(7, gen.metadata.nz, 3)))
    states.append(gen.cache_state)
print(json.dumps(states))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    if proc.returncode == READ_ONLY_FAILED:
        pytest.skip(f"this machine cannot make a folder read-only: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    bare_state, warm_state = json.loads(proc.stdout)
    assert bare_state.startswith("not written (") and warm_state == "loaded"
    assert "Read-only" in bare_state or "Permission denied" in bare_state, bare_state
    assert sorted(p.name for p in bare.parent.iterdir()) == ["generator.onnx"]
    assert sorted(p.name for p in warm.parent.iterdir()) == sorted(["generator.onnx",
                                                                     cache.name])
    for name in ("bare", "warm"):
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), want)


def test_cache_switch_env_var_and_cli(cache_models, tmp_path, monkeypatch):
    path = model_in(tmp_path / "m", cache_models["dcgan"])
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_setting() is CACHE_DEFAULT
    assert cache_setting(True) is True and cache_setting(False) is False
    for value, want in (("1", True), ("on", True), ("0", False), ("off", False)):
        monkeypatch.setenv(CACHE_ENV, value)
        assert cache_setting() is want
        assert cache_setting(not want) is (not want)  # the argument wins
    monkeypatch.setenv(CACHE_ENV, "0")
    assert runtime.Generator(path, device="cpu").cache_state == "off"
    assert sorted(p.name for p in path.parent.iterdir()) == ["generator.onnx"]
    monkeypatch.setenv(CACHE_ENV, "maybe")
    with pytest.raises(GanzooError, match="GANZOO_ORT_CACHE must be 1 .* or 0 .*, got 'maybe'"):
        runtime.Generator(path, device="cpu")
    with pytest.raises(GanzooError, match="cache must be True, False or None, got 'yes'"):
        runtime.Generator(path, device="cpu", cache="yes")

    proc = run_cli("generate", str(path), "-n", "4", "-o", str(tmp_path / "a.png"),
                   "--device", "cpu", check=False, env={CACHE_ENV: "maybe"})
    assert proc.returncode == 2 and proc.stderr.count("error: ") == 1
    assert "GANZOO_ORT_CACHE must be 1" in proc.stderr and "Traceback" not in proc.stderr
    run_cli("generate", str(path), "-n", "4", "-o", str(tmp_path / "b.png"), "--device", "cpu",
            env={CACHE_ENV: "1"})
    caches = list(path.parent.glob("generator.optimized-*.onnx"))
    assert len(caches) == 1
    run_cli("generate", str(path), "-n", "4", "-o", str(tmp_path / "c.png"), "--device", "cpu",
            env={CACHE_ENV: "1"})
    assert (tmp_path / "b.png").read_bytes() == (tmp_path / "c.png").read_bytes()


# -- the shared latent sampler ---------------------------------------------------------------


def test_latent_sampler_is_pinned_for_ports():
    """Reference values for re-implementations (a browser app): ganzoo-normal/1 must not drift."""
    from ganzoo.latents import _mix

    mixed = _mix(np.array([0, 1, 2, 0xFFFFFFFF], dtype=np.uint32))
    assert mixed.tolist() == [0, 69681622, 4057983209, 310335631]
    assert sample_latents(1, 5, 0).tolist() == [[
        1.9934611320495605, 1.6661255359649658, 1.1583936214447021, 1.4796147346496582,
        -0.10021211951971054]]
    assert sample_latents(1, 3, 2**32 - 1).tolist() == [[
        0.6925889849662781, 0.007223362568765879, -0.7222650051116943]]


def test_latent_sampler_is_standard_normal_and_prefix_stable():
    z = sample_latents(2000, 100, 7)
    assert z.dtype == np.float32 and z.shape == (2000, 100)
    flat = z.reshape(-1).astype(np.float64)
    assert abs(flat.mean()) < 0.01 and abs(flat.std() - 1) < 0.01
    assert abs(((flat - flat.mean()) ** 4).mean() - 3) < 0.05  # normal kurtosis
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.01
    other = sample_latents(2000, 100, 8).reshape(-1)
    assert abs(np.corrcoef(flat, other)[0, 1]) < 0.01
    assert np.array_equal(sample_latents(3, 100, 7), z[:3])  # more images: same first ones
    with pytest.raises(GanzooError, match="seed must be an integer from 0 to 4294967295"):
        sample_latents(1, 4, 2**32)
