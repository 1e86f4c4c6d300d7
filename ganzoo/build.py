"""Building generators and discriminators from architecture names and configs."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from ganzoo.components import NameTable
from ganzoo.config import (
    DiscriminatorConfig,
    GeneratorConfig,
    ResolvedRecipe,
    build_dataclass,
    check_sizes,
)
from ganzoo.errors import GanzooError


def _describe(config: Any) -> str:
    if dataclasses.is_dataclass(config):
        return ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(config).items())
    return repr(config)


def _build(side: str, arch: str, config: Any, table: NameTable) -> nn.Module:
    """``side`` of ``arch`` built from ``config``: sizes are checked first, and anything the
    model's constructor raises becomes a GanzooError naming the architecture and config."""
    component = table.resolve("architecture", arch)
    cls = getattr(component.value, side)
    if cls is None:
        raise GanzooError(f"architecture '{component.full_name}' has no {side}")
    if isinstance(config, dict):
        config = build_dataclass(cls.config_class, config, f"{component.full_name} {side}")
    check_sizes(side, config, component.full_name)
    supported = getattr(cls, "resolutions", None)
    resolution = getattr(config, "resolution", None)
    if supported and resolution is not None and resolution not in tuple(supported):
        raise GanzooError(
            f"the {side} of architecture '{component.full_name}' supports resolutions "
            f"{', '.join(map(str, supported))} (its 'resolutions'), got {resolution}; set "
            "train.resolution to one of them (--set train.resolution=N)")
    try:
        return cls(config)
    except GanzooError:
        raise
    except Exception as exc:  # the constructor is a plugin's, or torch refusing the sizes
        detail = (str(exc).strip().splitlines() or [""])[0][:300]
        raise GanzooError(
            f"cannot build the {side} of architecture '{component.full_name}' from the config "
            f"{_describe(config)}: {type(exc).__name__}: {detail}; check the {side}.* values "
            f"(--set {side}.KEY=VALUE, or the config or file they came from)"
        ) from exc


def create_generator(arch: str, config: GeneratorConfig | dict[str, Any] | None = None, *,
                     table: NameTable) -> nn.Module:
    """A generator by architecture name (short or full) and config (dataclass or mapping)."""
    return _build("generator", arch, config or {}, table)


def create_discriminator(arch: str, config: DiscriminatorConfig | dict[str, Any] | None = None,
                         *, table: NameTable) -> nn.Module:
    """A discriminator by architecture name (short or full) and config."""
    return _build("discriminator", arch, config or {}, table)


def build_pair(recipe: ResolvedRecipe, table: NameTable) -> tuple[nn.Module, nn.Module]:
    """G and D of a recipe; a conditional recipe refuses models that would ignore the labels."""
    if recipe.train.conditional:
        for side, arch in (("generator", recipe.generator_arch),
                           ("discriminator", recipe.discriminator_arch)):
            cls = getattr(table.resolve("architecture", arch).value, side)
            if cls is not None and not getattr(cls, "conditional", False):
                raise GanzooError(
                    f"train.conditional is true but the {side} of '{arch}' ignores class "
                    "labels; use a conditional architecture (dcgan-cond, sngan-resnet) or set "
                    "train.conditional=false"
                )
    return (create_generator(recipe.generator_arch, recipe.generator, table=table),
            create_discriminator(recipe.discriminator_arch, recipe.discriminator, table=table))
