"""A projected discriminator (Sauer et al. 2021) on a timm feature backbone.

Images go through a frozen feature network (``timm.create_model(..., features_only=True,
pretrained=False)``, weights optionally from a local file), then through fixed random
projections that mix channels (1x1 convs, "CCM") and scales (a top-down pathway with 3x3
convs, "CSM"); small trainable heads, one per scale, score the projected features.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo.config import DiscriminatorConfig
from ganzoo.errors import GanzooError

PAPER = "https://arxiv.org/abs/2111.01007"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ProjectedDiscriminatorConfig(DiscriminatorConfig):
    backbone: str = "efficientnet_lite0"
    pretrained_path: str = ""
    num_scales: int = 4
    projection_channels: int = 64
    ndf: int = 64
    input_size: int = 0
    train_backbone: bool = False


def create_backbone(name: str) -> nn.Module:
    """A timm feature extractor by name, never downloading anything."""
    try:
        return timm.create_model(name, pretrained=False, features_only=True)
    except Exception as exc:  # timm raises RuntimeError for unknown names, others for no
        raise GanzooError(  # features_only support
            f"discriminator.backbone '{name}' is not a timm model with features_only support "
            f"({exc}); try efficientnet_lite0 or resnet18 (see timm.list_models())"
        ) from exc


# What a user runs once, in their own Python, to turn a torch.save file into one ganzoo reads.
CONVERT = ("python -c \"import torch, safetensors.torch as st; "
           "s = torch.load('IN.pth', map_location='cpu', weights_only=True); "
           "st.save_file(s.get('state_dict', s), 'OUT.safetensors')\"")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file. Nothing else is accepted: a ``torch.save`` file is
    a pickle, and ganzoo never unpickles a user's file (not even with ``weights_only=True``)."""
    if not path.is_file():
        raise GanzooError(f"discriminator.pretrained_path {path}: no such file")
    if path.suffix != ".safetensors":
        raise GanzooError(
            f"discriminator.pretrained_path {path} is not a .safetensors file; ganzoo-timm "
            "never unpickles a file, so convert it once, in an environment you trust: "
            f"{CONVERT}"
        )
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise GanzooError(
            f"discriminator.pretrained_path {path} is not a readable .safetensors file: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_backbone_weights(backbone: nn.Module, name: str, path: Path) -> None:
    """Fill ``backbone`` from ``path``; extra entries (a classifier head) are ignored, missing
    or misshapen ones are an error."""
    state = read_weights(path)
    own = backbone.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise GanzooError(
            f"discriminator.pretrained_path {path} does not hold {name} weights: {len(missing)} "
            f"of {len(own)} are missing (e.g. {', '.join(missing[:3])}); save the state dict of "
            f"timm.create_model('{name}')"
        )
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise GanzooError(f"discriminator.pretrained_path {path}: '{key}' has shape "
                              f"{list(state[key].shape)}, {name} needs {list(value.shape)}")
    backbone.load_state_dict({k: state[k] for k in own})


class _RandomProjection(nn.Module):
    """Fixed random cross-channel (1x1) and cross-scale (top-down, 3x3) mixing."""

    def __init__(self, channels: list[int], widths: list[int]) -> None:
        super().__init__()
        self.ccm = nn.ModuleList(nn.Conv2d(c, w, 1) for c, w in zip(channels, widths))
        self.lateral = nn.ModuleList(nn.Conv2d(deep, shallow, 1)
                                     for shallow, deep in zip(widths[:-1], widths[1:]))
        self.csm = nn.ModuleList(nn.Conv2d(w, w, 3, padding=1) for w in widths)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [ccm(f) for ccm, f in zip(self.ccm, features)]
        out = [self.csm[-1](mixed[-1])]
        for i in range(len(mixed) - 2, -1, -1):
            top = F.interpolate(self.lateral[i](out[0]), size=mixed[i].shape[-2:],
                                mode="bilinear", align_corners=False)
            out.insert(0, self.csm[i](mixed[i] + top))
        return out


def _head(c_in: int, size: int, width: int) -> nn.Sequential:
    """Spectrally normalized convs from one scale's features down to 4x4 patch logits."""
    layers: list[nn.Module] = [spectral_norm(nn.Conv2d(c_in, width, 3, padding=1)),
                               nn.LeakyReLU(0.2, True)]
    c = width
    while size > 4:
        wider = min(c * 2, 8 * width)
        layers += [spectral_norm(nn.Conv2d(c, wider, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        c, size = wider, size // 2
    layers.append(spectral_norm(nn.Conv2d(c, 1, 1)))
    return nn.Sequential(*layers)


class ProjectedDiscriminator(nn.Module):
    """Frozen timm features -> fixed random projections -> one trainable head per scale; the
    score is the sum over scales of each head's mean patch logit."""

    config_class = ProjectedDiscriminatorConfig
    resolutions = (16, 32, 64, 128, 256)

    def __init__(self, config: ProjectedDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        if config.channels not in (1, 3):
            raise GanzooError(f"the projected discriminator takes 1- or 3-channel images, the "
                              f"data has {config.channels}")
        if config.num_scales < 1 or config.ndf < 1 or config.projection_channels < 0:
            raise GanzooError("discriminator.num_scales and discriminator.ndf must be >= 1 and "
                              "discriminator.projection_channels >= 0")
        self.backbone = create_backbone(config.backbone)
        if config.pretrained_path:
            load_backbone_weights(self.backbone, config.backbone,
                                  Path(config.pretrained_path).expanduser())
        else:
            print(f"ganzoo-timm: the {config.backbone} backbone starts from random weights (no "
                  "discriminator.pretrained_path given); pretrained features are what make "
                  "projected GANs work", file=sys.stderr)
        info = self.backbone.feature_info
        stages = len(info.channels())
        self.scales = list(range(max(0, stages - config.num_scales), stages))
        channels = [info.channels()[i] for i in self.scales]
        reductions = [info.reduction()[i] for i in self.scales]
        self.input_size = config.input_size or max(config.resolution, 2 * reductions[-1])
        cfg = getattr(self.backbone, "pretrained_cfg", None) or {}
        self.register_buffer("mean", torch.tensor(cfg.get("mean", IMAGENET_MEAN))[None, :, None,
                                                                                   None],
                             persistent=False)
        self.register_buffer("std", torch.tensor(cfg.get("std", IMAGENET_STD))[None, :, None,
                                                                                None],
                             persistent=False)
        if config.projection_channels:
            widths = [config.projection_channels * 2**i for i in range(len(channels))]
            self.projection: _RandomProjection | None = _RandomProjection(channels, widths)
        else:
            widths, self.projection = channels, None
        sizes = [max(1, self.input_size // r) for r in reductions]
        self.heads = nn.ModuleList(_head(c, s, config.ndf) for c, s in zip(widths, sizes))
        self._freeze()

    def _frozen(self) -> list[nn.Module]:
        frozen = [] if self.config.train_backbone else [self.backbone]
        return frozen + ([self.projection] if self.projection is not None else [])

    def _freeze(self) -> None:
        for module in self._frozen():
            module.requires_grad_(False)
            module.eval()

    def requires_grad_(self, requires_grad: bool = True) -> ProjectedDiscriminator:
        """Toggle the heads (and a trainable backbone); frozen parts stay frozen."""
        super().requires_grad_(requires_grad)
        self._freeze()
        return self

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self._freeze()
        return self

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x + 1) / 2 - self.mean) / self.std
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False)
        features = self.backbone(x)
        features = [features[i] for i in self.scales]
        if self.projection is not None:
            features = self.projection(features)
        return sum(head(f).mean(dim=(1, 2, 3)) for head, f in zip(self.heads, features))
