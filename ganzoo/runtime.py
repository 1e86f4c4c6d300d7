"""Run an exported ``generator.onnx`` with onnxruntime and numpy alone: no torch is imported.

    from ganzoo.runtime import Generator

    gen = Generator("generator.onnx")          # CUDA when onnxruntime-gpu can use it, else CPU
    images = gen.generate(16, seed=0)          # numpy, as the model's metadata describes
    pictures = gen.images(16, seed=0)          # PIL images
    gen.run(z, labels)                         # your own latents: z [N, nz] float32
    Generator("generator.onnx", cache=True)    # keep onnxruntime's optimised graph beside it

The model's ganzoo metadata (:mod:`ganzoo.store.onnx_metadata`) says the latent size, image shape,
output layout and classes; latents come from :mod:`ganzoo.latents`, so a seed gives the same
images here as ``ganzoo sample`` gives with torch.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.errors import GanzooError
from ganzoo.fileio import open_temp
from ganzoo.latents import class_labels, sample_latents, walk_latents
from ganzoo.store.onnx_metadata import GeneratorMetadata
from ganzoo.store.optimized_graph import cache_path, cache_setting, remove_stale_caches

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# Each of these ships the same importable 'onnxruntime' module; two at once overwrite each other.
ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml",
                     "onnxruntime-openvino", "onnxruntime-qnn", "onnxruntime-training")
_warned: set[str] = set()


# -- installation checks ---------------------------------------------------------------------


def installed_onnxruntime() -> dict[str, str]:
    """Installed onnxruntime distributions, name -> version."""
    found = {}
    for name in ORT_DISTRIBUTIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def onnxruntime_conflict() -> str | None:
    """A warning when several onnxruntime packages are installed at once, else None.

    ``pip install onnxruntime onnxruntime-gpu`` leaves one ``onnxruntime`` module whose files
    come from whichever package was installed last: the CUDA provider may silently vanish.
    """
    found = installed_onnxruntime()
    if len(found) < 2:
        return None
    listing = ", ".join(f"{name} {version}" for name, version in found.items())
    return (f"several onnxruntime packages are installed at once ({listing}); they overwrite "
            "each other's 'onnxruntime' module, so the CUDA provider can silently go missing. "
            f"Keep one: 'pip uninstall -y {' '.join(found)}' then 'pip install onnxruntime-gpu' "
            "(GPU) or 'pip install onnxruntime' (CPU only)")


def _warn_once(message: str | None) -> None:
    if message and message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise GanzooError(f"onnxruntime is not importable ({exc}); 'pip install onnxruntime' "
                          "(or onnxruntime-gpu for CUDA)") from exc
    return onnxruntime


def default_threads() -> int:
    """The CPU cores this process may use (its affinity mask, which containers restrict)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- the generator ---------------------------------------------------------------------------


class Generator:
    """A ganzoo ``generator.onnx`` in an onnxruntime session.

    :param path: the ``.onnx`` file written by ``ganzoo export``.
    :param device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    :param threads: intra-op threads on CPU (default: the cores this process may use).
    :param batch_size: the largest batch sent to the session at once; bigger requests are
        split, so memory stays bounded.
    :param io_binding: bind inputs and outputs to the device (default: on for CUDA), so the
        session writes straight into device buffers instead of staging copies.
    :param cache: on CPU, keep onnxruntime's optimised graph in a file next to the model and
        load that next time (default: ``$GANZOO_ORT_CACHE``, else off; measured no faster for
        the zoo's generators). The file's name carries the model's digest, the onnxruntime
        version and the CPU's features (:mod:`ganzoo.store.optimized_graph`); a damaged cache
        is replaced, and a folder that cannot be written to means no cache, never an error.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "auto",
                 threads: int | None = None, batch_size: int = 64,
                 io_binding: bool | None = None, cache: bool | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise GanzooError(f"{self.path} does not exist; export a generator with "
                              "'ganzoo export RUN' (it writes generator.onnx)")
        if not self.path.is_file():
            raise GanzooError(f"{self.path} is a folder; pass the generator.onnx file in it")
        if batch_size < 1:
            raise GanzooError(f"batch_size must be at least 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise GanzooError(f"threads must be at least 1, got {threads}")
        use_cache = cache_setting(cache)
        ort = _import_onnxruntime()
        _warn_once(onnxruntime_conflict())
        providers, self.device_type, self.device_id = self._providers(ort, device)

        self.threads = threads or default_threads()
        self.cache_path: Path | None = None
        #: "off", "loaded" (from the cached optimised graph), "written" (this load made it),
        #: or "not written (why)"
        self.cache_state = "off"
        if use_cache and providers == [CPU]:
            self._open_cached(ort, providers)
        else:
            self._open(ort, self.path, providers)
        self.provider = self.session.get_providers()[0]
        self.batch_size = batch_size
        self.io_binding = (self.provider == CUDA) if io_binding is None else io_binding

    def _open(self, ort: Any, source: Path, providers: list[Any], *, optimize: bool = True,
              save_to: Path | None = None) -> None:
        """Start the session on ``source`` (the model, or its cached optimised graph, which is
        loaded as it is: ``optimize=False``) and check it is a ganzoo generator."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                            else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        if save_to is not None:
            options.optimized_model_filepath = str(save_to)
            options.add_session_config_entry("session.save_model_format", "ONNX")
        # Idle worker threads sleep instead of spinning: a generator's convolutions are long,
        # so spinning saves nothing, and on a shared machine spinning threads steal the cores
        # the busy ones need (1.8x slower at batch 64 with other work running; see
        # benchmarks/inference.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(source), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own classes for unreadable models
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise GanzooError(f"{source} is not a loadable ONNX model ({first}); pass a "
                              "generator.onnx written by 'ganzoo export'") from exc
        try:
            props = self.session.get_modelmeta().custom_metadata_map
        except UnicodeDecodeError as exc:  # onnxruntime hands back the bytes it was given
            raise GanzooError(f"{source}: its metadata is not valid text ({exc.reason} at "
                              f"byte {exc.start}); the file is damaged: re-export it with "
                              "'ganzoo export RUN'") from exc
        self.metadata = GeneratorMetadata.from_props(dict(props), str(source))
        names = [i.name for i in self.session.get_inputs()]
        expected = ["z", "labels"] if self.metadata.conditional else ["z"]
        if names != expected:
            raise GanzooError(f"{source}: the graph's inputs are {names}, its metadata "
                              f"promises {expected}; re-export it with 'ganzoo export'")

    def _open_cached(self, ort: Any, providers: list[Any]) -> None:
        """Load the cached optimised graph when it is there and loads; else load the model
        and save its optimised graph (under a temporary name, renamed when the session
        started). A damaged cache is replaced (one made by another CPU or onnxruntime has
        another name and is left alone); a folder that cannot be written to means no cache."""
        try:
            cache = self.cache_path = cache_path(self.path, ort.__version__)
        except OSError as exc:  # an unreadable model: its own error comes from onnxruntime
            self.cache_state = f"not written ({exc.strerror or exc})"
            self._open(ort, self.path, providers)
            return
        if cache.is_file():
            try:
                self._open(ort, cache, providers, optimize=False)
                self.cache_state = "loaded"
                return
            except GanzooError:
                pass  # damaged, or not what its name says: made again below
        try:
            tmp, fd = open_temp(cache)
            os.close(fd)
        except OSError as exc:
            self.cache_state = f"not written ({exc.strerror or exc})"
            self._open(ort, self.path, providers)
            return
        try:
            try:
                self._open(ort, self.path, providers, save_to=tmp)
            except GanzooError:  # saving failed (a full disk), or the model is bad
                self.cache_state = "not written (onnxruntime could not save it)"
                self._open(ort, self.path, providers)  # the model's own error, if it has one
                return
            try:
                os.replace(tmp, cache)
            except OSError as exc:
                self.cache_state = f"not written ({exc.strerror or exc})"
                return
            self.cache_state = "written"
            remove_stale_caches(cache, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _providers(ort: Any, device: str) -> tuple[list[Any], str, int]:
        available = ort.get_available_providers()
        if device == "auto":
            device = "cuda" if CUDA in available else "cpu"
        kind, _, index = device.partition(":")
        if kind == "cpu" and not index:
            return [CPU], "cpu", 0
        if kind != "cuda" or (index and not index.isdigit()):
            raise GanzooError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")
        if CUDA not in available:
            hint = onnxruntime_conflict() or (
                "install onnxruntime-gpu (and only it) with a CUDA that matches it")
            raise GanzooError(f"device {device}: onnxruntime here has no CUDA provider "
                              f"(available: {', '.join(available)}); {hint}")
        device_id = int(index or 0)
        return [(CUDA, {"device_id": device_id}), CPU], "cuda", device_id

    # -- running ---------------------------------------------------------------------------

    def run(self, z: Any, labels: Any = None) -> np.ndarray:
        """Images for latents ``z`` ``[N, nz]`` (and ``labels`` ``[N]`` for a conditional
        generator), in the layout the metadata names: float32 NCHW in [-1, 1] or uint8 NHWC.

        The graph takes float32 latents, so ``z`` of any other real dtype is cast to float32
        first: float64 is rounded (values beyond float32's range would become Inf, and are
        refused), float16/bfloat16 are widened exactly, integers are converted (large ones
        rounded). Booleans, complex numbers and objects are refused, and so is any NaN or Inf
        in ``z`` (after the cast): a generator turns it into NaN images without a word.
        ``labels`` may be any integer dtype (cast to int64).
        """
        meta = self.metadata
        try:
            raw = np.asarray(z)
        except (TypeError, ValueError) as exc:
            raise GanzooError(f"z must be a float array [N, {meta.nz}] ({exc})") from None
        if raw.dtype.kind not in "fiu":
            raise GanzooError(f"z must be a float array [N, {meta.nz}] (float32, or a real "
                              f"float or integer dtype, cast to it), got dtype {raw.dtype}")
        if raw.ndim != 2 or raw.shape[1] != meta.nz:
            raise GanzooError(f"z must have shape [N, {meta.nz}] (this generator takes "
                              f"{meta.nz} latents per image), got {list(raw.shape)}")
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.ascontiguousarray(raw, dtype=np.float32)
        finite = np.isfinite(z)
        if not finite.all():
            row = int(np.argwhere(~finite)[0][0])
            why = ("NaN or Inf" if not np.isfinite(raw).all()
                   else f"values beyond float32's range ({raw.dtype} cast to float32)")
            raise GanzooError(f"z holds {why} (first in row {row} of {len(z)}); a generator "
                              "makes NaN images from it: pass finite latents, such as "
                              "ganzoo.latents.sample_latents(n, nz, seed)")
        feeds_labels = self._check_labels(labels, len(z))
        dtype = np.uint8 if meta.output_dtype == "uint8" else np.float32
        out = np.empty(meta.output_shape(len(z)), dtype=dtype)
        for start in range(0, len(z), self.batch_size):
            stop = start + self.batch_size
            feeds = {"z": z[start:stop]}
            if feeds_labels is not None:
                feeds["labels"] = feeds_labels[start:stop]
            out[start:stop] = self._run_batch(feeds)
        return out

    def _check_labels(self, labels: Any, n: int) -> np.ndarray | None:
        meta = self.metadata
        if not meta.conditional:
            if labels is not None:
                raise GanzooError("this generator is not class-conditional; pass no labels")
            return None
        if labels is None:
            raise GanzooError(f"this generator is class-conditional ({meta.num_classes} "
                              "classes): pass labels, one int per image")
        arr = np.asarray(labels)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise GanzooError(f"labels must be {n} integers (shape [{n}]), got shape "
                              f"{list(arr.shape)} of {arr.dtype}")
        if n and (arr.min() < 0 or arr.max() >= meta.num_classes):
            raise GanzooError(f"labels must be in 0..{meta.num_classes - 1}, got "
                              f"{int(arr.min())}..{int(arr.max())}")
        return np.ascontiguousarray(arr, dtype=np.int64)

    def _run_batch(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        if not self.io_binding:
            return self.session.run(["images"], feeds)[0]
        import onnxruntime as ort

        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(
                value, self.device_type, self.device_id))
        binding.bind_output("images", self.device_type, self.device_id)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def generate(self, n: int, seed: int = 0, class_index: int | None = None,
                 truncation: float | None = None) -> np.ndarray:
        """``n`` images from the latents :func:`ganzoo.latents.sample_latents` draws for
        ``seed`` (classes in turn, or all ``class_index``, for a conditional generator);
        ``truncation`` psi keeps every latent element within [-psi, psi]."""
        if n < 0:
            raise GanzooError(f"n must be at least 0, got {n}")
        z = sample_latents(n, self.metadata.nz, seed, truncation)
        return self.run(z, class_labels(n, self.metadata.num_classes, class_index))

    def walk(self, n: int = 1, keys: int = 4, frames: int = 16, seed: int = 0,
             class_index: int | None = None, truncation: float | None = None) -> np.ndarray:
        """Frames of ``n`` looped latent walks (:func:`ganzoo.latents.walk_latents`):
        ``[keys * frames, n, ...]`` images in this generator's layout, frame 0 being
        ``generate(n, seed)``. Conditional walks keep their class (classes in turn, or
        ``class_index``) while the latent moves."""
        z = walk_latents(n, keys, frames, self.metadata.nz, seed, truncation)
        labels = class_labels(n, self.metadata.num_classes, class_index)
        images = self.run(z.reshape(-1, z.shape[-1]),
                          None if labels is None else np.tile(labels, len(z)))
        return images.reshape(len(z), n, *images.shape[1:])

    def to_uint8(self, images: np.ndarray) -> np.ndarray:
        """This generator's output as uint8 NHWC (a no-op for a uint8 export)."""
        if self.metadata.output_layout == "NHWC":
            return np.asarray(images, dtype=np.uint8)
        from ganzoo.images import to_uint8

        return to_uint8(images)

    def images(self, n: int, seed: int = 0, class_index: int | None = None) -> list[Any]:
        """``n`` generated images as PIL images (mode L for one channel, RGB for three)."""
        from PIL import Image

        pixels = self.to_uint8(self.generate(n, seed, class_index))
        return [Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p) for p in pixels]

    def __repr__(self) -> str:
        m = self.metadata
        return (f"Generator({str(self.path)!r}, {m.arch}, nz={m.nz}, {m.resolution}px x "
                f"{m.channels}, {m.output_layout} {m.output_dtype}, {self.provider})")


def load(path: str | os.PathLike, **options: Any) -> Generator:
    """:class:`Generator` (``ganzoo.runtime.load("generator.onnx")``)."""
    return Generator(path, **options)
