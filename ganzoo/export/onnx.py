"""Torch generator -> one self-contained ONNX graph (eval mode, plain weights, dynamic batch).

The graph takes ``z`` ``[N, nz]`` float32 (and ``labels`` ``[N]`` int64 for a conditional
generator) and returns ``images``: ``[N, C, H, W]`` float32 in [-1, 1], or with ``uint8`` the
post-processing of :func:`ganzoo.images.to_uint8` baked in, ``[N, H, W, C]`` uint8. With
``fp16`` the weights and maths are float16 while the inputs and outputs stay as above.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import onnx
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganzoo.errors import GanzooError
from ganzoo.version import __version__

MIN_OPSET = 18
DEFAULT_OPSET = 18
# Tried in this order; a later one only when the earlier one fails to export or to match torch.
EXPORTERS = ("dynamo", "dynamo-unoptimized", "torchscript")


def check_opset(opset: int) -> int:
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise GanzooError(f"--opset must be from {MIN_OPSET} to {newest} (this onnx package's "
                          f"newest), got {opset}")
    return opset


def plain_copy(G: nn.Module, build: Callable[[], nn.Module]) -> nn.Module:
    """A fresh, unparametrized copy of ``G`` in eval mode, holding the weights ``G`` uses.

    Every parametrized tensor (spectral norm through ``torch.nn.utils.parametrizations``, or
    any other parametrization) is evaluated once on ``G`` in eval mode and stored as a plain
    tensor in a new module made by ``build()``; ``G`` itself is left exactly as it was
    (removing parametrizations from a deep copy would share, and so break, ``G``'s state).
    """
    baked: dict[str, torch.Tensor] = {}
    was_training = G.training
    G.eval()
    try:
        with torch.no_grad():
            for prefix, module in G.named_modules():
                if parametrize.is_parametrized(module):
                    for name in module.parametrizations:
                        key = f"{prefix}.{name}" if prefix else name
                        baked[key] = getattr(module, name).detach().clone()
    finally:
        G.train(was_training)
    with torch.random.fork_rng(devices=[]):  # building runs weight init: keep the caller's RNG
        fresh = build()
    for module in fresh.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    state = {k: v for k, v in G.state_dict().items() if ".parametrizations." not in f".{k}"}
    state.update(baked)
    result = fresh.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise GanzooError(f"cannot rebuild the generator without parametrizations: missing "
                          f"{result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}")
    return fresh.to(device="cpu", dtype=torch.float32).eval().requires_grad_(False)


class ExportModule(nn.Module):
    """The graph's signature around a plain generator: float32 in, float32 or uint8 out."""

    def __init__(self, G: nn.Module, conditional: bool, fp16: bool, uint8: bool) -> None:
        super().__init__()
        self.G = G.half() if fp16 else G
        self.conditional, self.fp16, self.uint8 = conditional, fp16, uint8

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.fp16:
            z = z.half()
        x = self.G(z, labels) if self.conditional else self.G(z)
        x = x.float()
        if self.uint8:  # exactly ganzoo.images.to_uint8: round half up, clip, NHWC
            x = torch.floor((x + 1.0) * 127.5 + 0.5).clamp(0.0, 255.0)
            x = x.to(torch.uint8).permute(0, 2, 3, 1)
        return x


def _example_inputs(nz: int, num_classes: int) -> tuple[torch.Tensor, ...]:
    z = torch.zeros(2, nz)
    return (z, torch.zeros(2, dtype=torch.long)) if num_classes else (z,)


@contextlib.contextmanager
def _quiet():
    """The exporters print progress and deprecation notes; ganzoo reports what matters."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _dynamo(module: nn.Module, args: tuple, names: list[str], opset: int,
            optimize: bool) -> onnx.ModelProto:
    batch = torch.export.Dim("batch", min=1)
    with _quiet():
        program = torch.onnx.export(
            module, args, dynamo=True, input_names=names, output_names=["images"],
            dynamic_shapes={name: {0: batch} for name in names}, opset_version=opset,
            external_data=False, optimize=optimize, verbose=False)
    return program.model_proto


def _torchscript(module: nn.Module, args: tuple, names: list[str], opset: int) -> onnx.ModelProto:
    with tempfile.TemporaryDirectory() as tmp, _quiet():
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            module, args, str(path), dynamo=False, input_names=names, output_names=["images"],
            dynamic_axes={name: {0: "batch"} for name in [*names, "images"]},
            opset_version=opset, do_constant_folding=True)
        return onnx.load(str(path))


def export_graph(plain: nn.Module, nz: int, num_classes: int, *, exporter: str,
                 opset: int = DEFAULT_OPSET, fp16: bool = False,
                 uint8: bool = False) -> onnx.ModelProto:
    """One ONNX graph of ``plain`` (from :func:`plain_copy`) made by the named exporter."""
    import copy

    module = ExportModule(copy.deepcopy(plain), num_classes > 0, fp16, uint8).eval()
    args = _example_inputs(nz, num_classes)
    names = ["z", "labels"][:len(args)]
    if exporter == "dynamo":
        model = _dynamo(module, args, names, opset, optimize=True)
    elif exporter == "dynamo-unoptimized":
        model = _dynamo(module, args, names, opset, optimize=False)
    elif exporter == "torchscript":
        model = _torchscript(module, args, names, opset)
    else:
        raise ValueError(f"unknown exporter {exporter!r}; choose from {EXPORTERS}")
    _check_self_contained(model)
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != names or outputs != ["images"]:
        raise GanzooError(f"the {exporter} exporter made a graph with inputs {inputs} and "
                          f"outputs {outputs}, not {names} -> ['images'] (an unused labels "
                          "input is dropped by some exporters)")
    for value in model.graph.input:
        batch = value.type.tensor_type.shape.dim[0]
        if not batch.dim_param:
            raise GanzooError(
                f"the {exporter} exporter fixed the batch size of '{value.name}' to "
                f"{batch.dim_value}: the generator's forward() turns the batch size into a "
                "Python int (len(z), int(z.shape[0]), a loop over the batch); use z.shape[0] "
                "or view(-1, ...) so any batch size works")
    return model


def _check_self_contained(model: onnx.ModelProto) -> None:
    from onnx.external_data_helper import uses_external_data

    if any(uses_external_data(t) for t in model.graph.initializer):
        raise GanzooError("the exporter put weights in an external data file; ganzoo needs one "
                          "self-contained generator.onnx")


def with_metadata(model: onnx.ModelProto, props: dict[str, str], doc: str) -> onnx.ModelProto:
    """``model`` with ``props`` as its ``metadata_props`` (replacing any), checked."""
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    model.producer_name = "ganzoo"
    model.producer_version = __version__
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model
