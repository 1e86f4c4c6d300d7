"""Generation throughput on one CUDA GPU: torch fp32 eager and ganzoo's sampling default
against onnxruntime's CUDA provider, fp32 and fp16 exports.

The DCGAN-64 generator of benchmarks/inference.py (nz 100, ngf 64, 3 channels, BatchNorm
statistics from real batches), exported by ganzoo's own path. The torch rows and the IO-binding
row keep latents and images on the GPU; the ``ganzoo.runtime`` rows take and return host arrays,
as ``ganzoo generate`` does, so they include the copies. IO binding binds torch CUDA tensors
(their device pointers) as the session's input and output, once, so each call is one run with no
copies. Rounds alternate between engines; the table shows the median images/s and the ratio to
torch fp32 eager (PyTorch's defaults: cudnn.benchmark off, TF32 convolutions on). Target
(issue 18): onnxruntime CUDA fp16 + IO binding >= 2x torch fp32 eager.

``--device cpu`` is benchmarks/gpu.sh's dry run: the same code on the CPU, with the onnxruntime
rows on the CPU provider as labelled stand-ins.

    python benchmarks/inference_cuda.py --batches 256,64 --rounds 20
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).parent))
from inference import dcgan64, measure, table  # noqa: E402

from ganzoo.devices import choose_fast_path, resolve_device  # noqa: E402
from ganzoo.export import export_generator  # noqa: E402
from ganzoo.host import get_table  # noqa: E402
from ganzoo.latents import sample_latents  # noqa: E402
from ganzoo.runtime import CUDA, Generator  # noqa: E402
from ganzoo.store.generator_file import generator_bytes  # noqa: E402

TARGET = 2.0
BOUND = "IO binding on torch tensors"


def bound_run(gen: Generator, z: torch.Tensor, out: torch.Tensor) -> Callable[[], None]:
    """One session run that reads ``z`` and writes ``out`` in place (tensors on the session's
    device); the binding is made once, so a call copies nothing."""
    binding = gen.session.io_binding()
    for name, tensor in (("z", z), ("images", out)):
        bind = binding.bind_input if name == "z" else binding.bind_output
        bind(name, gen.device_type, gen.device_id, np.float32, list(tensor.shape),
             tensor.data_ptr())
    return lambda: gen.session.run_with_iobinding(binding)


def ort_sessions(paths: dict[str, Path], device: torch.device,
                 batch: int) -> tuple[dict[str, Generator], str]:
    """``ganzoo.runtime`` sessions on the CUDA provider (on a CPU run: the CPU provider, as a
    stand-in), and a line saying what was skipped, if anything."""
    if device.type == "cpu":
        gens = {name: Generator(p, device="cpu", threads=torch.get_num_threads(),
                                batch_size=batch) for name, p in paths.items()}
        return gens, "skipped: no CUDA (onnxruntime rows run on the CPU provider as stand-ins)"
    available = ort.get_available_providers()
    if CUDA not in available:
        return {}, (f"skipped: onnxruntime CUDA rows: onnxruntime {ort.__version__} here has no "
                    f"{CUDA} (available: {', '.join(available)}); install onnxruntime-gpu")
    gens = {name: Generator(p, device=f"cuda:{device.index or 0}", batch_size=batch)
            for name, p in paths.items()}
    fallen = [name for name, gen in gens.items() if gen.provider != CUDA]
    if fallen:  # onnxruntime falls back to the CPU when the CUDA provider fails to load
        return {}, (f"skipped: onnxruntime CUDA rows: the {CUDA} did not load (session runs "
                    f"on {gens[fallen[0]].provider}; a CUDA/cuDNN that onnxruntime-gpu "
                    f"{ort.__version__} cannot use?)")
    return gens, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="256,64", help="comma-separated batch sizes")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (a dry run)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    batches = [int(b) for b in args.batches.split(",")]
    on_gpu = device.type == "cuda"
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        G, config = dcgan64(100, 64, 3)
        st = Path(tmp) / "generator.safetensors"
        st.write_bytes(generator_bytes(G, "ganzoo:dcgan", config, 0, "dcgan-64"))
        fp32 = export_generator(st, Path(tmp) / "fp32", table=get_table())
        fp16 = export_generator(st, Path(tmp) / "fp16", fp16=True, table=get_table())
        G = G.to(device)
        G_cl = copy.deepcopy(G).to(memory_format=torch.channels_last)
        fast = choose_fast_path("auto", device, sampling=True)
        gens, skipped = ort_sessions({"fp32": fp32.onnx_path, "fp16": fp16.onnx_path}, device,
                                     max(batches))
        where = torch.cuda.get_device_name(device) if on_gpu else "CPU (dry run)"
        provider = "CUDA" if on_gpu else "CPU"
        print(f"DCGAN-64 generator (nz 100, ngf 64, 3 channels) on {where}, median of "
              f"{args.rounds} rounds; torch {torch.__version__}, onnxruntime {ort.__version__}; "
              f"exporter {fp32.exporter}, fp16 export max abs error "
              f"{fp16.parity.max_abs_error:.3g}")
        if skipped:
            print(skipped)

        for batch in batches:
            z_np = sample_latents(batch, 100, 0)
            z = torch.from_numpy(z_np).to(device)
            out = torch.empty(batch, 3, 64, 64, device=device)
            sync()  # z is on the GPU before onnxruntime's own stream reads it

            def eager(z=z):
                with torch.inference_mode():
                    return G(z)

            def tuned(z=z):
                torch.backends.cudnn.benchmark = True
                try:
                    return eager(z)
                finally:
                    torch.backends.cudnn.benchmark = False

            def ganzoo_default(z=z):
                with torch.inference_mode(), fast.autocast(device):
                    return (G_cl if fast.channels_last else G)(z)

            engines = {"torch fp32 eager (NCHW)": eager}
            if on_gpu:
                engines["torch fp32 eager + cudnn.benchmark"] = tuned
            engines[f"ganzoo sample default ({fast.precision}"
                    f"{', channels_last' if fast.channels_last else ''})"] = ganzoo_default
            stand_in = "" if on_gpu else " (dry-run stand-in)"
            for name, gen in gens.items():
                engines[f"onnxruntime {provider} {name}, ganzoo.runtime (host in/out)"
                        f"{stand_in}"] = lambda gen=gen, z_np=z_np: gen.run(z_np)
            if "fp16" in gens:
                engines[f"onnxruntime {provider} fp16 + {BOUND}{stand_in}"] = bound_run(
                    gens["fp16"], z, out)

            def synced(fn):
                return lambda: (fn(), sync())

            seconds = measure({name: synced(fn) for name, fn in engines.items()}, args.rounds)
            base = seconds["torch fp32 eager (NCHW)"]
            table(f"Batch {batch}", seconds, batch, base)
            bound = next((name for name in seconds if BOUND in name), None)
            if bound is None:
                print(f"\ntarget: onnxruntime CUDA fp16 + IO binding >= {TARGET:g}x torch fp32 "
                      "eager: not measured (no onnxruntime CUDA provider)")
                continue
            error = (out - eager().float()).abs().max().item()
            ratio = base / seconds[bound]
            verdict = "met" if ratio >= TARGET else "missed"
            print(f"\ntarget: onnxruntime {provider} fp16 + IO binding >= {TARGET:g}x torch fp32 "
                  f"eager: {verdict if on_gpu else 'n/a on a dry run'} ({ratio:.2f}x); its "
                  f"images' max abs error vs torch fp32 {error:.3g}")


if __name__ == "__main__":
    main()
