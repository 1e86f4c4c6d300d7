"""Export: generator.safetensors + generator.onnx, checked against torch with onnxruntime."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image
from torch.nn.utils import parametrize

from ganzoo import create_generator, load_generator
from ganzoo.config import build_dataclass
from ganzoo.errors import GanzooError
from ganzoo.export import export_generator
from ganzoo.export.parity import FP16_MEAN_TOLERANCE, FP16_TOLERANCE, check_parity
from ganzoo.host import get_table
from ganzoo.images import to_uint8
from ganzoo.latents import sample_latents
from ganzoo.loading import load_generator_file
from ganzoo.store.generator_file import generator_bytes
from tests.conftest import ROOT, TINY, run_cli
from tests.helpers.export_plugins import extra_architectures, trained_like

# Small values for config fields a generator may have; the rest keep their defaults.
TINY_FIELDS = {"nz": 16, "ngf": 8, "width": 8, "base_channels": 8, "max_channels": 32}


def tiny_config(arch: str, num_classes: int = 0):
    cls = get_table().resolve("architecture", arch).value.generator
    names = {f.name for f in dataclasses.fields(cls.config_class)}
    values = {k: v for k, v in TINY_FIELDS.items() if k in names}
    resolution = min(getattr(cls, "resolutions", (cls.config_class().resolution,)))
    values.update(resolution=resolution, channels=3, num_classes=num_classes)
    return build_dataclass(cls.config_class, values, f"tiny {arch}")


def write_generator(path, arch: str, num_classes: int = 0, step: int = 7, **fields):
    """A trained-like generator of ``arch`` saved as generator.safetensors; returns (G, config)."""
    config = dataclasses.replace(tiny_config(arch, num_classes), **fields)
    G = trained_like(create_generator(arch, config), config.nz, num_classes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(generator_bytes(G, arch, config, step, "test-recipe"))
    return G, config


def outputs(model_path, z, labels=None):
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    feeds = {"z": z} if labels is None else {"z": z, "labels": labels}
    return sess.run(["images"], feeds)[0]


def torch_images(G, z, labels=None):
    with torch.no_grad():
        return G(torch.from_numpy(z), None if labels is None else torch.from_numpy(labels)).numpy()


@pytest.mark.parametrize("num_classes", [0, 3])
def test_fp32_parity_for_every_registered_generator(tmp_path, num_classes):
    archs = [c.full_name for c in get_table().components("architecture")
             if c.value.generator is not None]
    assert "ganzoo:dcgan" in archs
    for arch in archs:
        folder = tmp_path / arch.replace(":", "_")
        G, config = write_generator(folder / "generator.safetensors", arch, num_classes)
        result = export_generator(folder / "generator.safetensors", table=get_table())
        assert result.onnx_path == folder / "generator.onnx"
        assert result.exporter.startswith("dynamo") and result.parity.ok
        report = check_parity(result.onnx_path.read_bytes(), G, config.nz, num_classes,
                              tolerance=1e-4, batches=(1, 7, 64))
        assert report.ok and report.max_abs_error <= 1e-4, (arch, report.describe())
        z = sample_latents(64, config.nz, 1)
        assert torch_images(G, z, None if not num_classes else
                            np.arange(64) % num_classes).std() > 0.2  # a meaningful check


def test_metadata_round_trip_and_one_self_contained_file(tmp_path):
    st = tmp_path / "in" / "generator.safetensors"
    G, config = write_generator(st, "dcgan", step=123)
    out = tmp_path / "out"
    result = export_generator(st, out, opset=18, table=get_table())
    assert sorted(p.name for p in out.iterdir()) == ["generator.onnx", "generator.safetensors"]
    model = onnx.load(str(result.onnx_path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    sha = hashlib.sha256((out / "generator.safetensors").read_bytes()).hexdigest()
    assert props == result.metadata.to_props()
    assert props["format"] == "ganzoo-generator-onnx/1" and props["ganzoo_version"]
    assert (props["arch"], props["recipe"], props["step"]) == ("ganzoo:dcgan", "test-recipe", "123")
    assert (props["nz"], props["resolution"], props["channels"], props["num_classes"]) == (
        "16", "16", "3", "0")
    assert (props["output_layout"], props["output_dtype"], props["output_range"]) == (
        "NCHW", "float32", "-1,1")
    assert props["precision"] == "fp32" and props["exporter"] == "dynamo"
    assert props["safetensors_sha256"] == sha
    assert json.loads(props["config"]) == dataclasses.asdict(config)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 18
    assert not any(onnx.external_data_helper.uses_external_data(t)
                   for t in model.graph.initializer)
    z_type = model.graph.input[0].type.tensor_type
    assert z_type.elem_type == onnx.TensorProto.FLOAT and z_type.shape.dim[0].dim_param
    assert z_type.shape.dim[1].dim_value == 16
    # the exported safetensors is the input generator, byte for byte in its tensors
    G2, info = load_generator(out / "generator.safetensors")
    assert info["step"] == 123 and info["recipe_name"] == "test-recipe"
    for (k, a), (k2, b) in zip(G.state_dict().items(), G2.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_generator_safetensors_alone_rebuilds_an_identical_generator(tmp_path):
    with extra_architectures():
        st = tmp_path / "generator.safetensors"
        G, config = write_generator(st, "exporttests:tiny-cond-sn", num_classes=4, step=9)
        G2, info = load_generator_file(st, table=get_table())
        assert type(G2) is type(G) and info["arch"] == "exporttests:tiny-cond-sn"
        assert info["generator_config"] == config and info["step"] == 9
        assert parametrize.is_parametrized(G2.fc)  # rebuilt as trained, SN state included
        assert G.state_dict().keys() == G2.state_dict().keys()
        for key, value in G.state_dict().items():
            assert torch.equal(value, G2.state_dict()[key]), key
        z, labels = sample_latents(8, config.nz, 3), np.arange(8) % 4
        assert np.array_equal(torch_images(G, z, labels), torch_images(G2, z, labels))
    with pytest.raises(GanzooError, match="needs the architecture 'exporttests:tiny-cond-sn'"):
        load_generator_file(st, table=get_table())


def test_conditional_spectral_norm_export_honours_labels_and_leaves_the_module_alone(tmp_path):
    with extra_architectures():
        st = tmp_path / "generator.safetensors"
        _, config = write_generator(st, "exporttests:tiny-cond-sn", num_classes=4)
        G, _ = load_generator_file(st, table=get_table())
        before = {k: v.clone() for k, v in G.state_dict().items()}
        result = export_generator(st, tmp_path / "out", table=get_table())
        assert parametrize.is_parametrized(G.fc) and parametrize.is_parametrized(G.conv)
        for key, value in G.state_dict().items():
            assert torch.equal(value, before[key]), f"export changed {key}"
    model = onnx.load(str(result.onnx_path))
    assert [i.name for i in model.graph.input] == ["z", "labels"]
    assert model.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert not any("parametrizations" in t.name for t in model.graph.initializer)
    assert result.metadata.inputs == "z,labels" and result.metadata.num_classes == 4
    z = np.repeat(sample_latents(1, config.nz, 5), 4, axis=0)
    labels = np.arange(4, dtype=np.int64)
    got = outputs(result.onnx_path, z, labels)
    assert np.abs(got - torch_images(G, z, labels)).max() <= 1e-4
    assert min(np.abs(got[i] - got[j]).mean() for i in range(4) for j in range(i)) > 1e-3


def test_fp16_export_keeps_float32_io_within_its_tolerance(tmp_path):
    st = tmp_path / "generator.safetensors"
    G, config = write_generator(st, "dcgan")
    result = export_generator(st, tmp_path / "out", fp16=True, table=get_table())
    model = onnx.load(str(result.onnx_path))
    assert result.metadata.precision == "fp16"
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = [t for t in model.graph.initializer if len(t.dims) == 4]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    report = check_parity(result.onnx_path.read_bytes(), G, config.nz, 0,
                          tolerance=FP16_TOLERANCE, mean_tolerance=FP16_MEAN_TOLERANCE,
                          batches=(1, 7, 64))
    assert report.ok, report.describe()
    assert report.max_abs_error > 1e-5  # it really computes in float16


def test_uint8_output_is_exactly_the_torch_post_processing(tmp_path):
    with extra_architectures():
        st = tmp_path / "generator.safetensors"
        write_generator(st, "exporttests:tiny-identity", nz=3 * 8 * 8)  # images = clip(z)
        result = export_generator(st, tmp_path / "out", uint8=True, table=get_table())
    assert (result.metadata.output_layout, result.metadata.output_dtype) == ("NHWC", "uint8")
    nz = 3 * 8 * 8
    # every rounding boundary (k + 0.5 levels), its float32 neighbours, the ends, and randoms
    edges = (np.arange(-1, 256) + 0.5) / 127.5 - 1.0
    values = np.concatenate([
        edges, np.nextafter(edges.astype(np.float32), np.float32(2)),
        np.nextafter(edges.astype(np.float32), np.float32(-2)), [-1, 1, 0, -2, 2, 0.5, -0.5],
        np.random.default_rng(0).uniform(-1.1, 1.1, 4 * nz)]).astype(np.float32)
    z = np.resize(values, (len(values) // nz + 1, nz)).astype(np.float32)
    got = outputs(result.onnx_path, z)
    assert got.dtype == np.uint8 and got.shape == (len(z), 8, 8, 3)
    want = to_uint8(np.clip(z, -1, 1).reshape(len(z), 3, 8, 8))
    assert np.array_equal(got, want)


def test_uint8_dcgan_matches_torch_then_to_uint8(tmp_path):
    st = tmp_path / "generator.safetensors"
    G, config = write_generator(st, "dcgan")
    result = export_generator(st, tmp_path / "out", uint8=True, table=get_table())
    z = sample_latents(64, config.nz, 2)
    got = outputs(result.onnx_path, z).astype(int)
    want = to_uint8(torch_images(G, z)).astype(int)
    assert got.shape == (64, 16, 16, 3)
    assert np.abs(got - want).max() <= 1 and (got != want).mean() < 1e-3


def test_torchscript_exporter_is_a_working_fallback(tmp_path):
    st = tmp_path / "generator.safetensors"
    G, config = write_generator(st, "dcgan")
    result = export_generator(st, tmp_path / "out", exporters=("torchscript",), table=get_table())
    assert result.exporter == "torchscript" and result.metadata.exporter == "torchscript"
    z = sample_latents(7, config.nz, 4)
    assert np.abs(outputs(result.onnx_path, z) - torch_images(G, z)).max() <= 1e-4


def test_a_mismatch_refuses_to_write_and_keeps_what_was_there(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "generator.onnx").write_bytes(b"previous export")
    with extra_architectures():
        st = tmp_path / "generator.safetensors"
        write_generator(st, "exporttests:tiny-noisy")
        with pytest.raises(GanzooError) as err:
            export_generator(st, out, table=get_table())
    message = str(err.value)
    assert "does not match torch, so nothing was written" in message
    for exporter in ("dynamo:", "dynamo-unoptimized:", "torchscript:"):
        assert exporter in message
    assert "max abs error" in message
    assert sorted(p.name for p in out.iterdir()) == ["generator.onnx"]
    assert (out / "generator.onnx").read_bytes() == b"previous export"


def test_export_rejects_bad_input(tmp_path):
    with pytest.raises(GanzooError, match="does not exist"):
        export_generator(tmp_path / "nope", table=get_table())
    st = tmp_path / "generator.safetensors"
    write_generator(st, "dcgan")
    with pytest.raises(GanzooError, match="--opset must be from 18"):
        export_generator(st, opset=17, table=get_table())
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors at all")
    with pytest.raises(GanzooError, match="not a readable safetensors file"):
        export_generator(junk, table=get_table())
    proc = run_cli("export", str(tmp_path / "nope"), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in (
        proc.stderr)


def test_cli_train_export_generate_sample_and_app_agree(tmp_path):
    """The acceptance path: a trained run, exported, gives the same images everywhere; the
    onnxruntime side (``ganzoo generate``, the example app) runs with torch unimportable."""
    run = tmp_path / "run"
    run_cli("train", "--arch", "dcgan", "--steps", "3", "--out", str(run), "-q", *TINY)
    proc = run_cli("export", str(run))
    assert "exporter dynamo" in proc.stdout and "parity passed" in proc.stderr
    model = run / "export" / "generator.onnx"
    assert model.is_file() and (run / "export" / "generator.safetensors").is_file()
    grids = {name: tmp_path / f"{name}.png" for name in ("sample", "generate", "app")}
    run_cli("sample", str(run), "-n", "12", "--seed", "3", "-o", str(grids["sample"]),
            "--precision", "fp32")
    args = ["-n", "12", "--seed", "3", "-o"]
    proc = python_without_torch(
        "from ganzoo.cli import main; "
        f"main(['generate', {str(model)!r}, *{args!r}, {str(grids['generate'])!r}])")
    assert "ganzoo:dcgan step 3, CPUExecutionProvider" in proc.stdout
    app = ROOT / "examples" / "onnx_app" / "app.py"
    proc = python_without_torch(
        f"sys.modules['ganzoo'] = None; sys.argv = ['app.py', {str(model)!r}, *{args!r}, "
        f"{str(grids['app'])!r}]; import runpy; runpy.run_path({str(app)!r}, "
        "run_name='__main__')")
    assert "ganzoo:dcgan (dcgan, step 3)" in proc.stdout
    pixels = {k: np.asarray(Image.open(p)).astype(int) for k, p in grids.items()}
    assert pixels["sample"].shape == (3 * 34 + 2, 4 * 34 + 2) and pixels["sample"].std() > 1
    assert np.abs(pixels["generate"] - pixels["sample"]).max() <= 1
    assert np.array_equal(pixels["generate"], pixels["app"])


def python_without_torch(code: str):
    """Run ``code`` in a fresh interpreter where ``import torch`` fails."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", f"import sys; sys.modules['torch'] = None; "
                           f"{code}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc
