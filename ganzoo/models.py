"""Building generators and discriminators from names and configs."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from ganzoo.config import (
    DERIVED_FIELDS,
    DiscriminatorConfig,
    GeneratorConfig,
    ResolvedRecipe,
    build_dataclass,
)
from ganzoo.errors import GanzooError

# Widths and latent sizes are checked before a model is built, so that a typo or an edited
# file is one clear error instead of a traceback from deep inside torch, or an attempt to
# allocate terabytes. The rule goes by field name, in every architecture's config (plugins'
# too): far above any real GAN (StyleGAN's widths are 512), far below what breaks memory.
MAX_SIZE = 65536
SIZE_FIELDS = {"nz": 1, "ngf": 1, "ndf": 1, "channels": 1, "num_classes": 0}  # -> the minimum


def check_sizes(side: str, config: Any, arch: str, fix: str | None = None) -> None:
    """Refuse a size-like int field (:data:`SIZE_FIELDS`) outside [minimum, MAX_SIZE];
    ``fix`` says how to correct it where the config came from a file."""
    if not dataclasses.is_dataclass(config):
        return
    for f in dataclasses.fields(config):
        low, value = SIZE_FIELDS.get(f.name), getattr(config, f.name)
        if low is None or not isinstance(value, int) or isinstance(value, bool):
            continue
        if low <= value <= MAX_SIZE:
            continue
        if fix is None and f.name in DERIVED_FIELDS:
            fix = "it is set from the data, so the config it came from was edited or damaged"
        elif fix is None:
            default = f" (the default is {f.default})" if isinstance(f.default, int) else ""
            fix = f"set a sensible size with --set {side}.{f.name}=N{default}"
        raise GanzooError(f"{side}.{f.name} must be between {low} and {MAX_SIZE}, got {value} "
                          f"(architecture '{arch}'); {fix}")


def _describe(config: Any) -> str:
    if dataclasses.is_dataclass(config):
        return ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(config).items())
    return repr(config)


def _build(side: str, arch: str, config: Any, registry: Any) -> nn.Module:
    """``side`` of ``arch`` built from ``config``: sizes are checked first, and anything the
    model's constructor raises becomes a GanzooError naming the architecture and config."""
    if registry is None:
        from ganzoo.plugins import get_registry

        registry = get_registry()
    component = registry.resolve("architecture", arch)
    cls = getattr(component.value, side)
    if cls is None:
        raise GanzooError(f"architecture '{component.full_name}' has no {side}")
    if isinstance(config, dict):
        config = build_dataclass(cls.config_class, config, f"{component.full_name} {side}")
    check_sizes(side, config, component.full_name)
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


def create_generator(arch: str, config: GeneratorConfig | dict[str, Any] | None = None,
                     registry: Any = None) -> nn.Module:
    """A generator by architecture name (short or full) and config (dataclass or mapping)."""
    return _build("generator", arch, config or {}, registry)


def create_discriminator(arch: str, config: DiscriminatorConfig | dict[str, Any] | None = None,
                         registry: Any = None) -> nn.Module:
    """A discriminator by architecture name (short or full) and config."""
    return _build("discriminator", arch, config or {}, registry)


def with_data_shape(recipe: ResolvedRecipe, channels: int, num_classes: int) -> ResolvedRecipe:
    """The recipe with the derived model fields set from the data and ``train.resolution``."""
    derived = {"resolution": recipe.train.resolution, "channels": channels,
               "num_classes": num_classes if recipe.train.conditional else 0}
    return dataclasses.replace(
        recipe,
        generator=dataclasses.replace(recipe.generator, **derived),
        discriminator=dataclasses.replace(recipe.discriminator, **derived),
    )


def build_pair(recipe: ResolvedRecipe, registry: Any = None) -> tuple[nn.Module, nn.Module]:
    """G and D of a recipe; a conditional recipe refuses models that would ignore the labels."""
    if recipe.train.conditional:
        if registry is None:
            from ganzoo.plugins import get_registry

            registry = get_registry()
        for side, arch in (("generator", recipe.generator_arch),
                           ("discriminator", recipe.discriminator_arch)):
            cls = getattr(registry.resolve("architecture", arch).value, side)
            if cls is not None and not getattr(cls, "conditional", False):
                raise GanzooError(
                    f"train.conditional is true but the {side} of '{arch}' ignores class "
                    "labels; use a conditional architecture (dcgan-cond, sngan-resnet) or set "
                    "train.conditional=false"
                )
    return (create_generator(recipe.generator_arch, recipe.generator, registry),
            create_discriminator(recipe.discriminator_arch, recipe.discriminator, registry))


def recipe_from_config(config: dict[str, Any], registry: Any = None) -> ResolvedRecipe:
    """The resolved recipe a run's ``config.json`` describes, with its data shape applied."""
    from ganzoo.config import resolve_spec
    from ganzoo.plugins import get_registry

    spec = {k: v for k, v in config["recipe"].items() if k != "name"}
    recipe = resolve_spec(config["recipe"].get("name", "run"), spec, registry or get_registry())
    data = config.get("data", {})
    recipe = with_data_shape(recipe, int(data.get("channels", 1)),
                             int(data.get("num_classes", 0)))
    fix = "the run's config.json holds it: undo the edit"
    check_sizes("generator", recipe.generator, recipe.generator_arch, fix)
    check_sizes("discriminator", recipe.discriminator, recipe.discriminator_arch, fix)
    return recipe


def load_generator(run_dir: Any, checkpoint: Any = None, registry: Any = None,
                   device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The EMA generator of a run (its latest checkpoint unless one is named), in eval mode,
    and what it is: ``arch``, ``generator_config``, ``step``, ``recipe_name`` (and for a run
    also its ``config`` and resolved ``recipe``).

    ``run_dir`` may also be a ``generator.safetensors`` made by ``ganzoo export``.
    """
    from pathlib import Path

    from ganzoo.train import checkpoint as ckpt
    from ganzoo.train.run import read_config

    run_dir = Path(run_dir)
    if run_dir.is_file() and checkpoint is None:
        return load_generator_file(run_dir, registry, device)
    config = read_config(run_dir)
    recipe = recipe_from_config(config, registry)
    if checkpoint is None:
        path, tensors, meta = ckpt.latest_checkpoint(run_dir)
    else:
        path = Path(checkpoint)
        tensors, meta = ckpt.read_checkpoint(path)
    G = create_generator(recipe.generator_arch, recipe.generator, registry)
    ckpt.module_from_tensors("G_ema", G, tensors, str(path))
    info = {"config": config, "recipe": recipe, "step": int(meta["step"]), "checkpoint": path,
            "arch": recipe.generator_arch, "generator_config": recipe.generator,
            "recipe_name": recipe.name}
    return G.to(device).eval().requires_grad_(False), info


def load_generator_file(path: Any, registry: Any = None,
                        device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """A generator rebuilt from a ``generator.safetensors`` alone (architecture, config and
    weights all come from the file), in eval mode, and the same ``info`` keys as
    :func:`load_generator` (less the run's ``config`` and ``recipe``)."""
    from pathlib import Path

    from ganzoo.errors import UnknownComponentError
    from ganzoo.export.safetensors import read_generator_file
    from ganzoo.train import checkpoint as ckpt

    if registry is None:
        from ganzoo.plugins import get_registry

        registry = get_registry()
    path = Path(path)
    tensors, meta = read_generator_file(path)
    try:
        component = registry.resolve("architecture", meta["arch"])
    except UnknownComponentError as exc:
        raise GanzooError(f"{path} needs the architecture '{meta['arch']}', which no installed "
                          f"plugin provides; install the plugin that does ({exc})") from None
    cls = component.value.generator
    if cls is None:
        raise GanzooError(f"{path}: architecture '{component.full_name}' has no generator")
    config = build_dataclass(cls.config_class, meta["config"], f"{path}: generator config")
    check_sizes("generator", config, component.full_name,
                f"{path}: its metadata was edited or damaged; export it again with "
                "'ganzoo export RUN'")
    try:
        G = create_generator(component.full_name, config, registry)
    except GanzooError as exc:
        raise GanzooError(f"{path}: the generator its metadata describes cannot be built "
                          f"({exc}); the file was edited or damaged: export it again with "
                          "'ganzoo export RUN'") from exc
    ckpt.module_from_tensors("G", G, {f"G.{k}": v for k, v in tensors.items()}, str(path))
    info = {"checkpoint": path, "step": meta["step"], "arch": component.full_name,
            "generator_config": config, "recipe_name": meta["recipe"], "file_metadata": meta}
    return G.to(device).eval().requires_grad_(False), info
