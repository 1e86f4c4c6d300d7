"""Sub-pixel export (ConvTranspose2d -> Conv + DepthToSpace) and ``--quantize int8``."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.export import export_generator
from ganzoo.export.parity import check_parity
from ganzoo.export.subpixel import SubPixelConvTranspose2d, subpixel_copy
from ganzoo.host import get_table
from ganzoo.runtime import Generator
from ganzoo.store.onnx_metadata import GeneratorMetadata
from tests.conftest import run_cli
from tests.test_export import write_generator

# (kernel, stride, padding, input size): what ganzoo/zoo uses (DCGAN and its conditional
# variant: 4/1/0 from 1x1, then 4/2/1; SN-GAN: 4/2/1 with bias), and a few others
ZOO_CONFIGS = [(4, 1, 0, 1), (4, 2, 1, 4), (4, 2, 1, 8)]
OTHER_CONFIGS = [(3, 2, 1, 5), (4, 2, 0, 3), (2, 2, 0, 4), (5, 3, 2, 4), (3, 1, 1, 6)]


@pytest.mark.parametrize("k,s,p,size", ZOO_CONFIGS + OTHER_CONFIGS)
@pytest.mark.parametrize("channels", [1, 3])
def test_subpixel_layer_equals_conv_transpose(k, s, p, size, channels):
    torch.manual_seed(k * 100 + s * 10 + p + channels)
    for bias in (False, True):
        conv = nn.ConvTranspose2d(channels, 5, k, s, p, bias=bias).eval()
        layer = SubPixelConvTranspose2d(conv, (size, size))
        for batch in (1, 5):
            x = torch.randn(batch, channels, size, size)
            want, got = conv(x), layer(x)
            assert got.shape == want.shape
            assert (got - want).abs().max() <= 1e-5


@pytest.mark.parametrize("k,s,p,size", ZOO_CONFIGS)
def test_subpixel_graph_in_onnxruntime_equals_torch_with_norm_and_relu_folded(k, s, p, size):
    import onnxruntime as ort

    torch.manual_seed(size)
    net = nn.Sequential(nn.ConvTranspose2d(3, 6, k, s, p, bias=False), nn.BatchNorm2d(6),
                        nn.ReLU(), nn.ConvTranspose2d(6, 1, 4, 2, 1), nn.Tanh())
    with torch.no_grad():  # BatchNorm statistics and affine away from the identity
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
    original = copy.deepcopy(net.eval())
    rewritten, count = subpixel_copy(net, (torch.randn(2, 3, size, size),))
    assert count == 2 and isinstance(rewritten[1], nn.Identity)
    program = torch.onnx.export(rewritten, (torch.randn(2, 3, size, size),), dynamo=True,
                                input_names=["x"],
                                dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    ops = {node.op_type for node in program.model_proto.graph.node}
    assert "ConvTranspose" not in ops and "Conv" in ops
    sess = ort.InferenceSession(program.model_proto.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = torch.randn(batch, 3, size, size)
        with torch.no_grad():
            want = original(x).numpy()
        assert np.abs(sess.run(None, {"x": x.numpy()})[0] - want).max() <= 1e-5


def _ops(path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.mark.parametrize("arch", ["dcgan", "sngan", "dcgan-cond"])
def test_subpixel_export_passes_the_fp32_parity_check(tmp_path, arch):
    num_classes = 3 if arch == "dcgan-cond" else 0
    st = tmp_path / "generator.safetensors"
    G, config = write_generator(st, arch, num_classes)
    result = export_generator(st, table=get_table(), subpixel=True)
    assert result.parity.ok and result.parity.max_abs_error <= 1e-4
    assert result.metadata.subpixel >= 2 and result.metadata.precision == "fp32"
    assert "ConvTranspose" not in _ops(result.onnx_path)
    report = check_parity(result.onnx_path.read_bytes(), G, config.nz, num_classes,
                          tolerance=1e-4, batches=(1, 5))
    assert report.ok, report.describe()
    plain = export_generator(st, tmp_path / "plain", table=get_table(), subpixel=False)
    assert plain.metadata.subpixel == 0 and "ConvTranspose" in _ops(plain.onnx_path)


def _fd_between(reference, images):
    from ganzoo.cli.outputs import _fd_fmnist

    return _fd_fmnist(reference, images)


def test_int8_export_runs_torch_free_and_records_calibration_and_cost(tmp_path):
    st = tmp_path / "generator.safetensors"
    write_generator(st, "dcgan", channels=1)
    result = export_generator(st, table=get_table(), quantize="int8", calibration=64,
                              calibration_seed=7, quality_count=100, quality=_fd_between)
    m = result.metadata
    assert m.precision == "int8" and m.quantized and m.subpixel > 0
    assert "QuantizeLinear" in _ops(result.onnx_path)
    assert "ConvTranspose" not in _ops(result.onnx_path)
    calibration = json.loads(m.calibration)
    assert calibration == {"method": "MinMax", "count": 64, "seed": 7,
                           "latent_sampler": "ganzoo-normal/1", "labels": "none"}
    settings = json.loads(m.quantization)
    assert settings["weights"] == "int8 per-channel symmetric, 7-bit range (reduce_range)"
    assert settings["reduce_range"] is True
    cost = m.quality()
    assert cost == result.quality and cost["n"] == 100
    assert 0 <= cost["fd-fmnist"] < 5 and 0 < cost["mean_abs_error"] < 0.1
    out = tmp_path / "images.npy"
    code = f"""
import sys
sys.modules["torch"] = None
import numpy as np
from ganzoo.runtime import Generator
gen = Generator({str(result.onnx_path)!r}, device="cpu")
assert gen.metadata.quality()["fd-fmnist"] == {cost["fd-fmnist"]!r}
np.save({str(out)!r}, gen.generate(6, seed=3))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    images = np.load(out)
    assert images.shape == (6, 1, 16, 16) and np.isfinite(images).all()
    assert images.std() > 0.05


def test_int8_of_three_channels_records_that_fd_was_not_measured(tmp_path):
    st = tmp_path / "generator.safetensors"
    write_generator(st, "dcgan")
    result = export_generator(st, table=get_table(), quantize="int8", calibration=32,
                              quality_count=16, quality=_fd_between)
    cost = result.metadata.quality()
    assert "fd-fmnist" not in cost and "3 channels" in cost["not_measured"]
    assert Generator(result.onnx_path, device="cpu").generate(2).shape == (2, 3, 16, 16)


def test_old_metadata_without_the_new_fields_still_reads(tmp_path):
    st = tmp_path / "generator.safetensors"
    write_generator(st, "dcgan")
    props = export_generator(st, table=get_table()).metadata.to_props()
    for key in ("subpixel", "quantization", "calibration", "quality_cost"):
        props.pop(key)
    meta = GeneratorMetadata.from_props(props, "old.onnx")
    assert meta.subpixel == 0 and not meta.quantized and meta.quality() == {}


@pytest.mark.parametrize("options,message", [
    ({"quantize": "int4"}, "--quantize must be int8"),
    ({"quantize": "int8", "fp16": True}, "--fp16 cannot be combined"),
    ({"quantize": "int8", "calibration": 3}, "--calibration must be"),
    ({"quantize": "int8", "calibration": 10**9}, "--calibration must be"),
    ({"quantize": "int8", "calibration_seed": -1}, "--calibration-seed must be"),
    ({"quantize": "int8", "quality_count": 1}, "--quality-n must be"),
])
def test_bad_quantization_requests_are_one_clear_error(tmp_path, options, message):
    st = tmp_path / "generator.safetensors"
    write_generator(st, "dcgan")
    with pytest.raises(GanzooError, match=message):
        export_generator(st, tmp_path / "out", table=get_table(), **options)
    assert not (tmp_path / "out").exists()


def test_cli_int8_export_prints_its_cost_and_generate_runs_it(tmp_path):
    st = tmp_path / "generator.safetensors"
    write_generator(st, "dcgan", channels=1)
    proc = run_cli("export", str(st), "--quantize", "int8", "--calibration", "32",
                   "--quality-n", "50")
    assert "int8 quality cost: fd-fmnist" in proc.stdout, proc.stdout + proc.stderr
    png = tmp_path / "g.png"
    run_cli("generate", str(tmp_path / "generator.onnx"), "-n", "4", "-o", str(png),
            "--device", "cpu")
    assert png.stat().st_size > 0
    bad = run_cli("export", str(st), "--calibration", "32", check=False)
    assert bad.returncode != 0 and "only matter with --quantize int8" in bad.stderr
    assert "Traceback" not in bad.stderr
