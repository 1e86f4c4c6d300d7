"""Every registered architecture, forward at every resolution it claims; spectral norm really
normalizes; conditional models use their labels, end to end through the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganzoo import create_discriminator, create_generator, host, load_generator, resolve_recipe
from ganzoo.build import build_pair
from ganzoo.data import load_data
from ganzoo.errors import GanzooError
from ganzoo.host import get_table
from ganzoo.images import to_uint8
from ganzoo.latents import sample_latents
from ganzoo.recipes import with_data_shape
from ganzoo.zoo.sngan import SNDCGANDiscriminator, SNDCGANDiscriminatorConfig
from tests.conftest import run_cli

TINY_WIDTHS = {"ngf": 4, "ndf": 4}


def _registered() -> list[tuple[str, str, int]]:
    """(architecture, side, resolution) for every model the installed plugins register."""
    cases = []
    for component in host.get_table().components("architecture"):
        for side in ("generator", "discriminator"):
            cls = getattr(component.value, side)
            if cls is not None:
                cases += [(component.full_name, side, r)
                          for r in getattr(cls, "resolutions", (32,))]
    host.reset()
    return cases


def _tiny_config(cls: type, resolution: int, channels: int, num_classes: int = 0):
    names = {f.name for f in dataclasses.fields(cls.config_class)}
    widths = {k: v for k, v in TINY_WIDTHS.items() if k in names}
    return cls.config_class(resolution=resolution, channels=channels, num_classes=num_classes,
                            **widths)


@pytest.mark.parametrize(("arch", "side", "resolution"), _registered())
def test_forward_at_every_claimed_resolution(arch, side, resolution):
    component = host.get_table().resolve("architecture", arch)
    cls = getattr(component.value, side)
    assert component.value.description and component.value.paper
    num_classes = 3 if getattr(cls, "conditional", False) else 0
    torch.manual_seed(0)
    model = cls(_tiny_config(cls, resolution, 3, num_classes))
    n = 2 if resolution <= 256 else 1
    labels = torch.tensor([0, num_classes - 1][:n]) if num_classes else None
    if side == "generator":
        model.eval()
        out = model(torch.randn(n, model.config.nz), labels)
        assert out.shape == (n, 3, resolution, resolution)
        assert out.min() >= -1 and out.max() <= 1
    else:
        out = model(torch.rand(n, 3, resolution, resolution) * 2 - 1, labels)
        assert out.shape == (n,)
    assert torch.isfinite(out).all()


def _sn_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules()
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]


def test_spectral_norm_holds_the_largest_singular_value_at_one():
    torch.manual_seed(0)
    d = SNDCGANDiscriminator(SNDCGANDiscriminatorConfig(ndf=8, resolution=16, channels=1))
    layers = _sn_layers(d)
    assert len(layers) == 6 and all(hasattr(m, "parametrizations") for m in layers)
    with torch.no_grad():
        for m in layers:
            m.parametrizations.weight.original.mul_(100.0)  # far from norm 1 on purpose
        x = torch.randn(4, 1, 16, 16)
        for _ in range(30):  # each training-mode forward runs one power iteration per layer
            d(x)
    for m in layers:
        raw = m.parametrizations.weight.original.flatten(1)
        effective = m.weight.flatten(1)
        assert torch.linalg.matrix_norm(raw, ord=2) > 2.0
        assert torch.linalg.matrix_norm(effective, ord=2).item() == pytest.approx(1.0, abs=0.03)


def test_every_layer_of_the_sn_resnet_discriminator_is_normalized():
    d = create_discriminator("sngan-resnet", {"ndf": 4, "num_classes": 10})
    layers = _sn_layers(d)
    assert any(isinstance(m, nn.Embedding) for m in layers)
    assert all(hasattr(m, "parametrizations") for m in layers)


@pytest.mark.parametrize("arch", ["dcgan-cond", "sngan-resnet"])
def test_conditional_models_use_their_labels(arch):
    torch.manual_seed(0)
    g = create_generator(arch, {"ngf": 4, "num_classes": 10, "nz": 16})
    d = create_discriminator(arch, {"ndf": 4, "num_classes": 10})
    with torch.no_grad():  # stand in for training: class embeddings start out identical in G
        for name, p in g.named_parameters():
            if "gamma" in name or "beta" in name:
                p.normal_(1.0 if "gamma" in name else 0.0, 0.3)
    g.eval()
    z = torch.randn(1, 16).expand(4, -1)
    images = g(z, torch.tensor([0, 0, 3, 7]))
    assert images.shape == (4, 1, 32, 32)
    assert torch.equal(images[0], images[1])
    assert (images[0] - images[2]).abs().max() > 1e-3
    assert (images[2] - images[3]).abs().max() > 1e-3
    scores = d(images[:1].expand(3, -1, -1, -1), torch.tensor([0, 3, 7]))
    assert scores.shape == (3,) and len(set(scores.tolist())) == 3
    with pytest.raises(ValueError, match="class-conditional: pass labels"):
        g(z)


def _conditional_generators() -> list[str]:
    names = [c.full_name for c in host.get_table().components("architecture")
             if getattr(c.value.generator, "conditional", False)]
    host.reset()
    return names


@pytest.mark.parametrize("arch", _conditional_generators())
def test_class_weights_mix_embeddings_and_one_hot_rows_are_the_labels(arch):
    """Every conditional generator of the zoo takes class weights [N, C] (a class walk): a
    one-hot row gives exactly its label's image, in float32 and under bf16 autocast, and a
    small step away from it moves the image a little."""
    cls = host.get_table().resolve("architecture", arch).value.generator
    assert cls.soft_labels, f"{arch}: declare soft_labels = True (ganzoo.nn.embed_labels)"
    torch.manual_seed(0)
    g = cls(_tiny_config(cls, min(getattr(cls, "resolutions", (32,))), 3, num_classes=4))
    with torch.no_grad():  # stand in for training: class parameters start out alike
        for name, p in g.named_parameters():
            if "gamma" in name or "beta" in name or "embed" in name:
                p.normal_(1.0 if "gamma" in name else 0.0, 0.5)
    g.eval()
    z = torch.randn(4, g.config.nz)
    labels = torch.tensor([0, 1, 2, 3])
    one_hot = torch.eye(4)[labels]
    with torch.no_grad():
        assert torch.equal(g(z, one_hot), g(z, labels))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.equal(g(z, one_hot), g(z, labels))
        a, b = g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.ones(4, dtype=torch.long))
        near = g(z, torch.tensor([[0.98, 0.02, 0.0, 0.0]]).expand(4, -1))
    assert (a - b).abs().mean() > 1e-3
    assert (near - a).abs().mean() < 0.2 * (b - a).abs().mean()
    with pytest.raises(ValueError, match=r"class weights must be a float tensor \[N, 4\]"):
        g(z, torch.ones(4, 3))


def test_unconditional_sngan_resnet_has_no_class_parameters():
    g = create_generator("sngan-resnet", {"ngf": 4})
    d = create_discriminator("sngan-resnet", {"ndf": 4})
    names = [n for n, _ in [*g.named_parameters(), *d.named_parameters()]]
    assert not any("gamma" in n or "embed" in n for n in names)
    assert g(torch.randn(2, 128)).shape == (2, 1, 32, 32)


def test_conditional_runs_need_conditional_models():
    data = load_data("fashion-mnist", 32, table=get_table())
    recipe = with_data_shape(resolve_recipe("dcgan", ["train.conditional=true"]), 1, 10)
    with pytest.raises(GanzooError, match="ignores class labels; use a conditional"):
        build_pair(recipe, table=get_table())
    recipe = with_data_shape(resolve_recipe("dcgan-cond", ["train.conditional=false"]),
                             data.channels, data.num_classes)
    g, d = build_pair(recipe, table=get_table())  # without labels it is a plain DCGAN
    names = [n for n, _ in [*g.named_parameters(), *d.named_parameters()]]
    assert not any("gamma" in n or "embed" in n for n in names)


def test_dcgan_cond_trains_and_samples_one_class_from_the_cli(tmp_path):
    run = tmp_path / "run"
    run_cli("train", "--arch", "dcgan-cond", "--steps", "4", "--out", str(run), "-q",
            "--set", "generator.ngf=8", "--set", "discriminator.ndf=8",
            "--set", "train.batch=16")
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["num_classes"] == 10 and config["recipe"]["train"]["conditional"]
    out = tmp_path / "class3.png"
    proc = run_cli("sample", str(run), "-n", "4", "--class", "3", "-o", str(out),
                   "--precision", "fp32")  # bit-comparable with the fp32 forward below
    assert "step 4" in proc.stdout
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 34 + 2, 2 * 34 + 2)
    G, _ = load_generator(run)  # what 'sample' ran: the same latents with another class differ
    z = torch.from_numpy(sample_latents(4, 100, 0))
    with torch.no_grad():
        three, five = G(z, torch.full((4,), 3)), G(z, torch.full((4,), 5))
    assert np.array_equal(grid[2:34, 2:34], to_uint8(three.numpy())[0, ..., 0])
    assert not torch.equal(three, five)


def test_conditional_sn_resnet_on_a_folder_with_class_subfolders(tmp_path):
    data_dir = tmp_path / "pics"
    rng = np.random.default_rng(0)
    for cls, base in (("circles", 40), ("squares", 200)):
        (data_dir / cls).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(base + rng.normal(0, 20, (20, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(data_dir / cls / f"{i}.png")
    run = tmp_path / "run"
    run_cli("train", "--arch", "sngan-resnet-cond", "--data", str(data_dir), "--steps", "2",
            "--out", str(run), "-q", "--set", "loss=bce-ns", "--set", "train.resolution=16",
            "--set", "train.n_critic=1", "--set", "generator.ngf=4",
            "--set", "discriminator.ndf=4", "--set", "train.batch=8")
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["class_names"] == ["circles", "squares"]
    assert config["data"]["num_classes"] == 2 and config["data"]["channels"] == 3
    assert Image.open(run / "samples" / "step-0000002.png").size == (8 * 18 + 2, 8 * 18 + 2)


def test_a_declared_resolutions_tuple_is_enforced():
    """A plugin model that declares ``resolutions`` is never built at another one."""
    from tests.helpers.toy_arch import MLPDiscriminator, MLPGenerator, ToyPlugin

    plugin = ToyPlugin()
    host.register_plugin(plugin, "toy")
    try:
        for cls in (MLPGenerator, MLPDiscriminator):
            cls.resolutions = (16, 32)
        assert create_generator("mlp", {"resolution": 32}, table=get_table()) is not None
        with pytest.raises(GanzooError, match=r"the generator of architecture 'toy:mlp' "
                           r"supports resolutions 16, 32 \(its 'resolutions'\), got 64; set "
                           r"train.resolution"):
            create_generator("mlp", {"resolution": 64}, table=get_table())
        with pytest.raises(GanzooError, match="discriminator of architecture 'toy:mlp'"):
            create_discriminator("mlp", {"resolution": 8}, table=get_table())
    finally:
        for cls in (MLPGenerator, MLPDiscriminator):
            del cls.resolutions
        host.unregister_plugin(plugin, "toy")
