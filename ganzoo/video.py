"""A looped walk as one file: a GIF (Pillow) or an MP4 (H.264 through PyAV, the ``video``
extra, imported only when an .mp4 is asked for).

Frames arrive one uint8 HWC grid at a time, so a walk is drawn while it is encoded. How the
walk was drawn is recorded in the file: the GIF's comment, the MP4's ``comment`` tag.

An MP4 is scaled up by a whole factor (nearest neighbour) to at least :data:`MIN_SIDE` pixels:
players show a video at its own size, where a 38-pixel grid is a speck, and H.264's 4:2:0
colour (one colour sample per 2x2 pixels, what every player decodes) then blurs nothing of
the generated pixels.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np
from PIL import Image

from ganzoo.errors import GanzooError

GIF, MP4 = "gif", "mp4"
VIDEO_EXTRA = "pip install 'ganzoo[video]'"
#: H.264 where PyAV's FFmpeg has it (PyPI's wheels do); MPEG-4 part 2 otherwise
MP4_CODECS = ("libx264", "mpeg4")
CRF = "18"  # H.264 quality: visually lossless for grids of generated images
MIN_SIDE = 512  # an MP4's shorter side is scaled up to at least this many pixels


def check_fps(fps: float) -> None:
    if not fps > 0:
        raise GanzooError(f"--fps must be above 0, got {fps}")


def mp4_codec() -> str:
    """The encoder an .mp4 walk is written with; without PyAV, one error naming the extra
    (called before any model loads)."""
    try:
        import av
    except ImportError as exc:
        raise GanzooError(f"writing an .mp4 needs PyAV: {VIDEO_EXTRA} (or pip install av), "
                          "or write the walk as a .gif") from exc
    for name in MP4_CODECS:
        try:
            av.codec.Codec(name, "w")
        except ValueError:  # UnknownCodecError: this FFmpeg build has no such encoder
            continue
        return name
    raise GanzooError(f"the PyAV here ({av.__version__}) has neither an H.264 nor an MPEG-4 "
                      "encoder; install PyPI's build (pip install --force-reinstall av) or "
                      "write the walk as a .gif")


def encode_walk(kind: str, frames: Iterable[np.ndarray], fps: float,
                record: dict[str, Any]) -> tuple[bytes, int]:
    """``frames`` (uint8 HWC grids) as a looped :data:`GIF` or an :data:`MP4` at ``fps``:
    (the file's bytes, the number of frames). An MP4's record also holds its ``scale``."""
    check_fps(fps)
    if kind == MP4:
        return _mp4(frames, fps, record)
    pictures = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], loop=0,
                     duration=round(1000 / fps), comment=json.dumps(record, sort_keys=True))
    return buffer.getvalue(), len(pictures)


def mp4_scale(height: int, width: int) -> int:
    """The whole factor an MP4 scales a ``height`` x ``width`` grid up by."""
    return max(1, math.ceil(MIN_SIDE / min(height, width)))


def _video_frame(frame: np.ndarray, scale: int) -> np.ndarray:
    """RGB scaled up by ``scale``, with an even width and height (4:2:0 colour needs them:
    an odd one is padded with the grid's black border)."""
    rgb = np.repeat(frame, 3, axis=-1) if frame.shape[-1] == 1 else frame
    rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    h, w = rgb.shape[:2]
    return np.ascontiguousarray(np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0))))


def _mp4(frames: Iterable[np.ndarray], fps: float, record: dict[str, Any]) -> tuple[bytes, int]:
    import av

    codec = mp4_codec()
    buffer = io.BytesIO()
    count, stream, scale = 0, None, 1
    with av.open(buffer, "w", format="mp4") as container:
        for frame in frames:
            if stream is None:  # the first frame sets the size, before anything is written
                scale = mp4_scale(*frame.shape[:2])
                container.metadata["comment"] = json.dumps({**record, "scale": scale},
                                                           sort_keys=True)
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = _video_frame(frame, scale).shape[:2]
                stream.pix_fmt = "yuv420p"  # what every player decodes
                if codec == "libx264":
                    stream.options = {"crf": CRF}
            picture = av.VideoFrame.from_ndarray(_video_frame(frame, scale), format="rgb24")
            for packet in stream.encode(picture):
                container.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode():  # flush the frames the encoder holds back
                container.mux(packet)
    return buffer.getvalue(), count
