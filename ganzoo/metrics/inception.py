"""FID's InceptionV3 (the pytorch-fid port of the TF 2015-12-05 graph), from a local copy
of its weights converted once to safetensors: numbers comparable with papers."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.metrics.networks import check_file, prepare_images

FID_INCEPTION_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
# pytorch-fid names its file after the first 8 hex digits of its sha256 (torch.hub's
# convention); that prefix is the only part of the digest published with it.
FID_INCEPTION_SHA256_PREFIX = "6726825d"
#: :func:`weights_sha256` of pytorch-fid's weights (of any faithful conversion of its .pth):
#: only weights with this digest make scores named ``fid``/``kid``/``is``. None until it is
#: recorded from the real file (``python -c "from ganzoo.metrics.inception import
#: weights_sha256; print(weights_sha256('pt_inception.safetensors'))"``); until then every
#: Inception score is named as unverified, which is honest, not wrong.
FID_INCEPTION_WEIGHTS_SHA256: str | None = None


# --------------------------------------------------------------------------------------------
# FID InceptionV3 (pytorch-fid variant)
# --------------------------------------------------------------------------------------------
# Module names follow the state-dict keys of pt_inception-2015-12-05-6726825d.pth
# (``Mixed_5b.branch1x1.conv.weight`` …), so that file loads as it is.  The variant differs
# from the ImageNet InceptionV3 of torchvision exactly where the 2015 TF graph did: the
# average pools inside the mixed blocks ignore padding, the last block max-pools its pool
# branch, and the classifier has 1008 outputs.


class _ConvBN(nn.Module):
    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_same(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _MixedA(nn.Module):
    """35×35 block: 1×1, 5×5, double 3×3 and pooled branches."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _ConvBN(cin, 64, 1)
        self.branch5x5_1 = _ConvBN(cin, 48, 1)
        self.branch5x5_2 = _ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, padding=1)
        self.branch_pool = _ConvBN(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool_same(x))], 1)


class _ReduceB(nn.Module):
    """35→17 grid reduction."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class _MixedC(nn.Module):
    """17×17 block with factorised 7×7 convolutions (1×7 then 7×1)."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = _ConvBN(cin, 192, 1)
        self.branch7x7_1 = _ConvBN(cin, c7, 1)
        self.branch7x7_2 = _ConvBN(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = _ConvBN(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = _ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = _ConvBN(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = _ConvBN(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = _ConvBN(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = _ConvBN(c7, 192, row[0], padding=row[1])
        self.branch_pool = _ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for conv in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            d = conv(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_same(x))], 1)


class _ReduceD(nn.Module):
    """17→8 grid reduction."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _ConvBN(cin, 192, 1)
        self.branch3x3_2 = _ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = _ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class _MixedE(nn.Module):
    """8×8 block whose 3×3 branches split into parallel 1×3 and 3×1 halves."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _ConvBN(cin, 320, 1)
        self.branch3x3_1 = _ConvBN(cin, 384, 1)
        self.branch3x3_2a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = _ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool_same(x)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """InceptionV3 as used for FID by pytorch-fid: 2048-d pool features, 1008 logits.

    Inputs are resized to 299×299 with plain bilinear interpolation (no antialiasing), as
    pytorch-fid does, so that FIDs match its reference numbers; 1-channel images are repeated
    to 3 channels.  Build it empty only to inspect it; use :func:`load_inception` for weights.
    """

    native_size = 299
    feature_dim = 2048
    num_classes = 1008

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = _ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = _ConvBN(80, 192, 3)
        self.Mixed_5b = _MixedA(192, pool_features=32)
        self.Mixed_5c = _MixedA(256, pool_features=64)
        self.Mixed_5d = _MixedA(288, pool_features=64)
        self.Mixed_6a = _ReduceB(288)
        self.Mixed_6b = _MixedC(768, c7=128)
        self.Mixed_6c = _MixedC(768, c7=160)
        self.Mixed_6d = _MixedC(768, c7=160)
        self.Mixed_6e = _MixedC(768, c7=192)
        self.Mixed_7a = _ReduceD(768)
        self.Mixed_7b = _MixedE(1280, max_pool=False)
        self.Mixed_7c = _MixedE(2048, max_pool=True)
        self.fc = nn.Linear(2048, self.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 1|3, H, W]`` images in [-1, 1] → ``[N, 2048]`` pool3 features (FID's space)."""
        x = prepare_images(x, 3, self.native_size, antialias=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean(dim=(2, 3))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 1|3, H, W]`` images in [-1, 1] → ``[N, 1008]`` logits (for Inception score)."""
        return self.fc(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise GanzooError(f"could not read {path} as a .safetensors file ({exc}); pass a "
                          f"conversion of {FID_INCEPTION_FILENAME} (see --inception-weights)."
                          ) from exc


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of weights themselves: each tensor's name, dtype, shape and bytes, in name
    order, leaving out what :func:`load_inception` ignores (``AuxLogits.*``, BatchNorm step
    counters). Any tool's faithful conversion of the same .pth has the same digest, whatever
    the file's layout or metadata."""
    import hashlib
    import json

    h = hashlib.sha256()
    for name in sorted(state):
        if name.startswith("AuxLogits.") or name.endswith("num_batches_tracked"):
            continue
        t = state[name].detach().cpu().contiguous()
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode() + b"\n")
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def weights_sha256(path: str | os.PathLike[str]) -> str:
    """:func:`state_sha256` of a ``.safetensors`` file's tensors."""
    return state_sha256(_read_state_dict(Path(path).expanduser()))


def convert_command(pth: Path) -> str:
    """The one line a user runs, in their own Python, to turn the pytorch-fid ``.pth`` into
    the ``.safetensors`` file ganzoo reads."""
    out = pth.with_suffix(".safetensors")
    return (f"python -c \"import torch; from safetensors.torch import save_file; "
            f"save_file(torch.load('{pth}', weights_only=True), '{out}')\"")


def load_inception(
    path: str | os.PathLike[str],
    expected_sha256: str | None = None,
    *,
    device: str | torch.device = "cpu",
) -> FIDInceptionV3:
    """Load FID's InceptionV3 from a local ``.safetensors`` conversion of pytorch-fid's file.

    ganzoo never downloads weights and never unpickles a file: fetch
    ``pt_inception-2015-12-05-6726825d.pth`` from the pytorch-fid project's releases once and
    convert it with the one line :func:`convert_command` gives (passing the ``.pth`` here
    checks it against the sha256 prefix pytorch-fid publishes in its name and answers with
    that line). The conversion must then fit InceptionV3 tensor for tensor; ``expected_sha256``
    (a full digest or a prefix of at least 8 hex digits) also pins its bytes.

    The model carries ``weights_sha256`` (:func:`state_sha256`) and ``is_reference``: whether
    those are pytorch-fid's weights (:data:`FID_INCEPTION_WEIGHTS_SHA256`), the only ones whose
    scores may be called FID, KID and IS.
    """
    weights = Path(path).expanduser()
    fix = (f"Download {FID_INCEPTION_FILENAME} from the pytorch-fid releases and pass its local "
           "path (ganzoo downloads nothing at run time).")
    if weights.suffix != ".safetensors":
        check_file(weights, expected_sha256 or FID_INCEPTION_SHA256_PREFIX,
                    "Inception weights", fix)
        raise GanzooError(
            f"{weights} is the right file, but ganzoo reads weights only from .safetensors "
            f"(a .pth is a pickle); convert it once, in your own Python: "
            f"{convert_command(weights)}, then pass the .safetensors file."
        )
    if expected_sha256 is not None:
        check_file(weights, expected_sha256, "Inception weights", fix)
    elif not weights.is_file():
        raise GanzooError(f"Inception weights not found at {weights}. {fix}")
    state = _read_state_dict(weights)
    digest = state_sha256(state)
    # The .pth was saved from a model built with auxiliary logits off; tolerate a copy that
    # still carries them, and BN step counters that older torch versions did not save.
    state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    model = FIDInceptionV3()
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise GanzooError(f"{weights} does not fit FID InceptionV3: {exc}") from exc
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise GanzooError(
            f"{weights} does not fit FID InceptionV3: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]} (of {len(missing)} / {len(unexpected)}); pass the pytorch-fid "
            f"file {FID_INCEPTION_FILENAME}."
        )
    model = model.eval().requires_grad_(False).to(device)
    model.weights_sha256 = digest
    model.is_reference = digest == FID_INCEPTION_WEIGHTS_SHA256
    return model
