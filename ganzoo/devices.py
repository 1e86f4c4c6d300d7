"""Where and how tensors compute: the device, and the fast path (bf16/fp16 autocast,
channels_last and fused Adam) where it helps. Training, sampling and evaluation resolve both
here, once, and hand the result on.

On CPUs with bf16 units (AVX-512 BF16 or AMX) bf16 autocast with channels_last trains DCGAN
about 2x faster than fp32 (see benchmarks/RESULTS.md); on CUDA bf16 is used where the GPU has
it, else fp16 with a GradScaler. Parameters, optimizer state, losses, penalties and EMA stay
fp32: autocast only lowers the precision of the convolutions' activations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ganzoo.errors import GanzooError


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto | cpu | cuda | cuda:N`` -> a device; under torchrun a bare ``cuda`` means the
    process's own GPU (``local_rank``)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GanzooError(f"--device {name}: CUDA is not available here; use --device cpu")
        if local_rank is not None and device.index is None:
            device = torch.device("cuda", local_rank)
    return device


@dataclass(frozen=True)
class FastPath:
    """What the training loop (and sampling) will use, and why."""

    precision: str  # fp32 | bf16 | fp16
    channels_last: bool
    fused_adam: bool
    reason: str

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self, device: torch.device) -> torch.autocast:
        return torch.autocast(device.type, dtype=self.dtype or torch.float32,
                              enabled=self.dtype is not None)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively. ``GANZOO_CPU_BF16=0|1`` overrides the probe."""
    forced = os.environ.get("GANZOO_CPU_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def choose_fast_path(requested: str, device: torch.device,
                     cpu_bf16: bool | None = None, *, sampling: bool = False) -> FastPath:
    """Resolve ``train.precision`` (auto | fp32 | bf16 | fp16) for ``device``.

    ``sampling``: for inference only. On a CPU without bf16, auto then also picks channels_last
    for fp32: generators draw 1.3-1.4x faster in it on AVX2 and AVX-512 CPUs alike
    (benchmarks/inference.py); training keeps NCHW there, where it was not measured faster.
    An explicit fp32 stays NCHW, the layout the ONNX parity check compares against.
    """
    if device.type == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if requested == "auto":
            requested = "bf16" if bf16_ok else "fp16"
            reason = "auto: CUDA with bf16" if bf16_ok else "auto: CUDA without bf16, fp16+scaler"
        else:
            reason = "requested"
        if requested == "bf16" and not bf16_ok:
            raise GanzooError("train.precision=bf16: this GPU has no bf16; use fp16 or auto")
        return FastPath(requested, channels_last=requested != "fp32", fused_adam=True,
                        reason=reason)
    cpu_bf16 = cpu_has_bf16() if cpu_bf16 is None else cpu_bf16
    channels_last = False
    if requested == "auto":
        requested = "bf16" if cpu_bf16 else "fp32"
        channels_last = sampling
        reason = ("auto: CPU has native bf16" if cpu_bf16
                  else "auto: CPU has no native bf16, fp32 is faster")
    else:
        reason = "requested"
    if requested == "fp16":
        raise GanzooError("train.precision=fp16 is for GPUs; on CPU use bf16, fp32 or auto")
    return FastPath(requested, channels_last=channels_last or requested == "bf16",
                    fused_adam=False, reason=reason)
