"""Sub-pixel export: every ConvTranspose2d of the graph becomes Conv + DepthToSpace, exactly.

onnxruntime's CPU provider has no int8 ConvTranspose kernel (the QDQ selectors fuse Conv into
QLinearConv, never ConvTranspose), and its fp32 ConvTranspose is an im2col + col2im that the
NCHWc Conv kernels beat. A transposed convolution of stride ``s`` is ``s * s`` ordinary
convolutions, one per output phase, interleaved; with the output shifted by ``t`` pixels all
phases read the same window of the input, so the whole layer is one Conv with ``s * s`` times
the output channels, then DepthToSpace (``pixel_shuffle``), then a crop. For the zoo's
kernel 4 / stride 2 / padding 1 that is a 2x2 Conv on the input padded by one pixel: the
multiply-adds of the transposed conv, no more. A transposed conv on a 1x1 input (DCGAN's first
layer, z -> 4x4) is a 1x1 Conv with ``k * k`` times the channels and a reshape.

The rewrite works on the plain copy the exporter makes (:func:`ganzoo.export.onnx.plain_copy`),
never on the user's generator, and folds a BatchNorm2d (eval statistics) and a ReLU that follow
a transposed conv in an ``nn.Sequential`` into the new Conv, so onnxruntime fuses Conv + ReLU
and the quantizer sees one Conv where the graph had ConvTranspose, BatchNorm and Relu.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.errors import GanzooError


def _phase_taps(k: int, s: int, p: int) -> tuple[int, int, int, list[list[int]]]:
    """One spatial dimension: (shift t, pad left, kernel size K, taps[r][j]) where ``taps[r][j]``
    is the transposed-conv kernel index that tap ``j`` of output phase ``r`` uses (-1: none).

    Output ``o`` of the transposed conv, written ``o + t = s * q + r``, is
    ``sum_d x[q + d] * w[r - t + p - s * d]``; ``t`` is picked to make the window of ``d``
    (over every phase) narrowest.
    """
    best = None
    for t in range(s):
        ds = [d for r in range(s) for d in range(-k, k + 1) if 0 <= r - t + p - s * d < k]
        if not ds:
            continue
        d_min, d_max = min(ds), max(ds)
        if best is None or d_max - d_min < best[2] - best[1]:
            best = (t, d_min, d_max)
    if best is None:
        raise ValueError(f"kernel {k}, stride {s}, padding {p} reads no input")
    t, d_min, d_max = best
    size = d_max - d_min + 1
    taps = [[-1] * size for _ in range(s)]
    for r in range(s):
        for j in range(size):
            index = r - t + p - s * (j + d_min)
            if 0 <= index < k:
                taps[r][j] = index
    return t, -d_min, size, taps


class SubPixelConvTranspose2d(nn.Module):
    """A ``ConvTranspose2d`` (groups 1, dilation 1), optionally followed by an eval-mode
    ``BatchNorm2d`` and a ``ReLU``, as pad + Conv2d + pixel_shuffle + crop (or, on a 1x1
    input, a 1x1 Conv2d + reshape) with weights derived exactly from the transposed conv's."""

    def __init__(self, conv: nn.ConvTranspose2d, input_size: tuple[int, int],
                 norm: nn.BatchNorm2d | None = None, relu: bool = False) -> None:
        super().__init__()
        if conv.groups != 1 or conv.dilation != (1, 1) or conv.padding_mode != "zeros":
            raise ValueError("only groups=1, dilation=1, zero padding is rewritten")
        self.stride = conv.stride[0]
        if conv.stride[1] != self.stride:
            raise ValueError("only equal strides are rewritten")
        self.input_size, self.relu = tuple(input_size), relu
        h, w = self.input_size
        weight = conv.weight.detach().float()  # [C_in, C_out, kh, kw]
        c_in, c_out = weight.shape[:2]
        bias = (conv.bias.detach().float() if conv.bias is not None
                else torch.zeros(c_out))
        scale = torch.ones(c_out)
        if norm is not None:
            mean, var = norm.running_mean.float(), norm.running_var.float()
            scale = torch.rsqrt(var + norm.eps)
            shift = -mean * scale
            if norm.affine:
                scale, shift = scale * norm.weight.detach().float(), shift * norm.weight.detach(
                    ).float() + norm.bias.detach().float()
            bias = bias * scale + shift
        weight = weight * scale[None, :, None, None]
        self.out_size = tuple(
            (n - 1) * st - 2 * pd + kk + op
            for n, st, pd, kk, op in zip(self.input_size, conv.stride, conv.padding,
                                         conv.kernel_size, conv.output_padding))
        self.c_out = c_out
        if (h, w) == (1, 1):
            # y[co, oh, ow] = sum_ci x[ci] * w[ci, co, oh + p, ow + p]
            oh, ow = self.out_size
            ph, pw = conv.padding
            kh, kw = conv.kernel_size
            full = torch.zeros(c_in, c_out, oh, ow)
            rows = slice(0, max(0, min(oh, kh - ph)))
            cols = slice(0, max(0, min(ow, kw - pw)))
            full[:, :, rows, cols] = weight[:, :, ph:ph + oh, pw:pw + ow][
                :, :, :rows.stop, :cols.stop]
            self.pointwise = True
            self.weight = nn.Parameter(full.permute(1, 2, 3, 0).reshape(-1, c_in, 1, 1),
                                       requires_grad=False)
            self.bias = nn.Parameter(bias[:, None, None].expand(c_out, oh, ow).reshape(-1),
                                     requires_grad=False)
            self.pads = (0, 0, 0, 0)
            self.shift = (0, 0)
            return
        self.pointwise = False
        s = self.stride
        t_h, left_h, size_h, taps_h = _phase_taps(conv.kernel_size[0], s, conv.padding[0])
        t_w, left_w, size_w, taps_w = _phase_taps(conv.kernel_size[1], s, conv.padding[1])
        # conv output q covers every output pixel: q = (o + t) // s for o < out
        q_h = (self.out_size[0] - 1 + t_h) // s + 1
        q_w = (self.out_size[1] - 1 + t_w) // s + 1
        right_h = q_h + size_h - 1 - left_h - h
        right_w = q_w + size_w - 1 - left_w - w
        self.pads = (left_w, right_w, left_h, right_h)  # may be negative: a crop
        self.shift = (t_h, t_w)
        sub = torch.zeros(c_out, s, s, c_in, size_h, size_w)
        for rh in range(s):
            for jh, kh in enumerate(taps_h[rh]):
                if kh < 0:
                    continue
                for rw in range(s):
                    for jw, kw in enumerate(taps_w[rw]):
                        if kw >= 0:
                            sub[:, rh, rw, :, jh, jw] = weight[:, :, kh, kw].t()
        # channel (co, rh, rw) is what pixel_shuffle puts at (co, s*q + rh, s*q + rw)
        self.weight = nn.Parameter(sub.reshape(c_out * s * s, c_in, size_h, size_w),
                                   requires_grad=False)
        self.bias = nn.Parameter(bias.repeat_interleave(s * s), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            raise RuntimeError(f"sub-pixel layer built for {self.input_size} inputs got "
                               f"{tuple(x.shape[-2:])}")
        if any(self.pads):
            x = F.pad(x, self.pads)
        y = F.conv2d(x, self.weight.to(x.dtype), self.bias.to(x.dtype))
        if self.relu:
            y = F.relu(y)
        oh, ow = self.out_size
        if self.pointwise:
            return y.reshape(-1, self.c_out, oh, ow)
        if self.stride > 1:
            y = F.pixel_shuffle(y, self.stride)
        t_h, t_w = self.shift
        if (t_h, t_w) != (0, 0) or y.shape[-2:] != (oh, ow):
            y = y[:, :, t_h:t_h + oh, t_w:t_w + ow]
        return y


def subpixel_copy(plain: nn.Module, example: tuple[torch.Tensor, ...]) -> tuple[nn.Module, int]:
    """``plain`` (in place) with every ConvTranspose2d rewritten; returns it and how many were.

    ``example`` is the generator's forward input, run once to learn each layer's input size
    (only the batch is dynamic in the exported graph) and to check the rewrite.
    """
    sizes: dict[nn.Module, set[tuple[int, int]]] = {}
    hooks = [m.register_forward_pre_hook(
        lambda mod, args: sizes.setdefault(mod, set()).add(tuple(args[0].shape[-2:])))
        for m in plain.modules() if isinstance(m, nn.ConvTranspose2d)]
    try:
        with torch.no_grad():
            reference = plain(*example)
    finally:
        for hook in hooks:
            hook.remove()
    count = 0

    def rewrite(parent: nn.Module) -> None:
        nonlocal count
        names = list(parent._modules)
        sequential = isinstance(parent, nn.Sequential)
        for i, name in enumerate(names):
            child = parent._modules[name]
            if child is None:
                continue
            if not isinstance(child, nn.ConvTranspose2d):
                rewrite(child)
                continue
            if len(sizes.get(child, ())) != 1:
                continue  # not used in forward(), or used at several input sizes
            norm, relu, absorbed = None, False, []
            if sequential:
                following = [parent._modules[n] for n in names[i + 1:i + 3]]
                if (following and isinstance(following[0], nn.BatchNorm2d)
                        and following[0].track_running_stats
                        and following[0].running_mean is not None):
                    norm = following.pop(0)
                    absorbed.append(names[i + 1])
                if following and isinstance(following[0], nn.ReLU):
                    relu = True
                    absorbed.append(names[i + 1 + len(absorbed)])
            try:
                size = next(iter(sizes[child]))
                parent._modules[name] = SubPixelConvTranspose2d(child, size, norm, relu)
            except ValueError:
                continue  # a configuration left as ConvTranspose
            for n in absorbed:
                parent._modules[n] = nn.Identity()
            count += 1

    rewrite(plain)
    plain.eval()
    with torch.no_grad():
        got = plain(*example)
    error = float((got - reference).abs().max())
    if not error <= 1e-4:
        raise GanzooError(f"the sub-pixel rewrite changed the generator's output (max abs error "
                          f"{error:.3g}); export with --no-subpixel and report this")
    return plain, count
