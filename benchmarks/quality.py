"""The zoo's quality table: every recipe and a plain hand-written DCGAN loop trained for the
same budget on the same data, scored the same way, side by side.

Each recipe is trained with ``ganzoo train`` (a real subprocess, like a user), and so is the
baseline, ``benchmarks/plain_dcgan.py`` (the paper's DCGAN in ~100 lines, no ganzoo import).
Then ``--n`` samples of each generator (the EMA one for recipes) are scored with one protocol:
fd / kd / precision / recall on the extractor's features, and class coverage from the fmnist
classifier's predicted classes (classes holding >= 1 % of the samples, and the KL divergence
of the histogram to uniform; the first row is the reference images' own, the floor the
classifier's errors set); conditional recipes also get class accuracy (the share of
samples the classifier puts in the class they were drawn for). Every fd is also printed as a
ratio to the baseline's from the same run.

The budget is a number of steps (``--steps``) or wall-clock seconds per run (``--seconds``;
a run is stopped the way a user stops one, with SIGINT, and the table shows the steps it
reached). ``--seeds 0,1,2`` repeats every row and prints the mean and spread.

    python benchmarks/quality.py --steps 2000 --n 10000 --recipes dcgan,r3gan
    python benchmarks/quality.py --seconds 600 --n 10000 --recipes dcgan,r3gan --seeds 0,1,2
    python benchmarks/quality.py --seconds 600 --steps 4500 --recipes r3gan   # cosine over 4,500
    python benchmarks/quality.py --steps 20 --n 500 --recipes dcgan          # smoke run
    python benchmarks/quality.py --recipes r3gan,r3gan+train.lr=2e-3         # a variant
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import torch

BASELINE = "plain-dcgan"
HERE = Path(__file__).resolve().parent


def run(command: list[str], seconds: float = 0) -> float:
    """Run ``command``; with ``seconds``, stop it by SIGINT then. Returns the wall time."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        proc.wait(timeout=seconds or None)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    if proc.returncode not in (0, 130):
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err}")
    return time.perf_counter() - start


def train(name: str, out: Path, args: argparse.Namespace, seed: int) -> float:
    if name == BASELINE:  # stops itself at --seconds, so the samples are of that moment
        command = [sys.executable, str(HERE / "plain_dcgan.py"), "--out", str(out), "--seed",
                   str(seed), "--n", str(args.n), "--steps", str(args.steps or 2000)]
        return run(command + (["--seconds", str(args.seconds)] if args.seconds else []))
    # Under a wall budget --steps is only a ceiling; given, it is also the horizon of the
    # recipe's step-based schedules (cosine lr and regularizer weight), so they can run their
    # course within the budget.
    steps = args.steps or (10**7 if args.seconds else 2000)
    recipe, *overrides = name.split("+")
    command = [sys.executable, "-m", "ganzoo", "train", "--arch", recipe, "--steps", str(steps),
               "--seed", str(seed), "--out", str(out), "--device", args.device, "--quiet"]
    for override in overrides:
        command += ["--set", override]
    return run(command, args.seconds)


def finished(name: str, out: Path, args: argparse.Namespace) -> bool:
    """With ``--reuse``: ``out`` already holds this row's run at this step budget."""
    if not args.reuse or args.seconds:
        return False
    if name == BASELINE:
        return (out / "samples.npz").is_file()
    from ganzoo.store.checkpoint import list_checkpoints

    return any(step == (args.steps or 2000) for step, _ in list_checkpoints(out))


def samples(name: str, out: Path, n: int, seed: int, table) -> tuple[torch.Tensor, int, int]:
    """(uint8 samples, classes they were drawn for or 0, steps trained)."""
    if name == BASELINE:
        return torch.from_numpy(np.load(out / "samples.npz")["images"]), 0, -1
    from ganzoo.loading import load_generator
    from ganzoo.metrics.scoring import quantize
    from ganzoo.sampling import generate_images

    G, info = load_generator(out, table=table)
    cfg = info["generator_config"]
    fakes = generate_images(G, n, nz=cfg.nz, num_classes=cfg.num_classes, seed=seed,
                            postprocess=quantize)
    return fakes, cfg.num_classes, info["step"]


def coverage(fakes: torch.Tensor, num_classes: int, extractor) -> dict[str, float]:
    """Predicted-class histogram: classes present, KL to uniform, and accuracy if labelled."""
    predicted = extractor.probabilities(fakes).argmax(1)
    share = np.bincount(predicted, minlength=10) / len(predicted)
    present = share[share > 0]
    out = {"classes": int((share >= 0.01).sum()),
           "kl": float((present * np.log(present * len(share))).sum())}
    if num_classes:  # generate_images draws the classes in turn
        out["accuracy"] = float((predicted == np.arange(len(predicted)) % num_classes).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=0,
                    help="training steps per run (default 2000; with --seconds, the ceiling "
                    "and schedule horizon, default none)")
    ap.add_argument("--seconds", type=float, default=0,
                    help="train each run for this long instead (steps are then a ceiling)")
    ap.add_argument("--n", type=int, default=10000, help="samples scored per run")
    ap.add_argument("--recipes", default="", help="comma-separated recipes (default: all), "
                    "each optionally with '+KEY=VALUE' overrides (ganzoo train --set); the "
                    f"baseline ({BASELINE}) always runs first")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--runs-dir", type=Path, default=None,
                    help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --runs-dir and a step budget: score a run already there "
                    "(RECIPE-sSEED, trained to --steps) instead of training it again; its "
                    "train wall shows as -")
    args = ap.parse_args()

    from ganzoo.data import load_data
    from ganzoo.host import get_table
    from ganzoo.metrics.features import load_extractor
    from ganzoo.metrics.scoring import score_images

    table = get_table()
    known = [c.name for c in table.components("recipe")]
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()] or known
    missing = sorted({r.split("+")[0] for r in recipes} - set(known))
    if missing:
        raise SystemExit(f"unknown recipes {missing}; the zoo has {known}")
    seeds = [int(s) for s in args.seeds.split(",")]
    reference = load_data("fashion-mnist", 32, table=table)
    extractor = load_extractor("fmnist", table=table)
    rows: dict[str, list[dict]] = {}
    with TemporaryDirectory() as tmp:
        root = args.runs_dir or Path(tmp)
        # Seed by seed, so that a table stopped early still holds whole side-by-side rounds.
        for seed in seeds:
            for name in [BASELINE, *recipes]:
                out = root / f"{name}-s{seed}"
                timing = {} if finished(name, out, args) else {"wall": train(name, out, args,
                                                                             seed)}
                fakes, num_classes, steps = samples(name, out, args.n, 0, table)
                result = score_images(fakes, reference, table=table, metrics="fd,kd,pr",
                                      extractor=extractor, seed=0)
                names = result.protocol["score_names"]
                row = {"fd": result.scores[names["fd"]], "kd": result.scores[names["kd"]],
                       "precision": result.scores[names["precision"]],
                       "recall": result.scores[names["recall"]], **timing, "steps": steps,
                       **coverage(fakes, num_classes, extractor)}
                rows.setdefault(name, []).append(row)
                print(f"{name} seed {seed}: {json.dumps(row)}", file=sys.stderr, flush=True)
    protocol = result.protocol

    def mean(name: str, key: str) -> str:
        values = [r[key] for r in rows[name] if key in r]
        if not values:
            return "-"
        m = statistics.fmean(values)
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        return f"{m:.3f}{spread}" if key in ("kd", "precision", "recall", "kl", "accuracy") \
            else f"{m:.2f}{spread}"

    base = statistics.fmean(r["fd"] for r in rows[BASELINE])
    budget = f"{args.seconds:g} s" if args.seconds else f"{args.steps or 2000} steps"
    print(f"Budget {budget} per run, seeds {args.seeds}, {args.n} samples each.\n")
    print(f"| recipe | {names['fd']} | × baseline | {names['kd']} | precision | recall | "
          "classes | KL to uniform | class acc | steps | train wall (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    real = coverage(reference.images, 0, extractor)  # the classifier's own bias: a floor
    print(f"| real images ({reference.source}) | - | - | - | - | - | {real['classes']} | "
          f"{real['kl']:.3f} | - | - | - |")
    for name in rows:
        ratio = statistics.fmean(r["fd"] for r in rows[name]) / base
        steps = statistics.fmean(r["steps"] for r in rows[name])
        print(f"| {name} | {mean(name, 'fd')} | {ratio:.2f} | {mean(name, 'kd')} | "
              f"{mean(name, 'precision')} | {mean(name, 'recall')} | {mean(name, 'classes')} | "
              f"{mean(name, 'kl')} | {mean(name, 'accuracy')} | "
              f"{'-' if steps < 0 else f'{steps:.0f}'} | {mean(name, 'wall')} |")
    print(f"\nProtocol: {protocol['n_fake']} samples vs {protocol['n_real']} reference images "
          f"({protocol['reference']['source']}), extractor {protocol['extractor']} "
          f"(sha256 {protocol['extractor_sha256'][:16]}), {protocol['resize']}; precision/recall "
          f"k={protocol['pr']['k']} on {protocol['pr']['n_real']} reals; ganzoo "
          f"{protocol['ganzoo_version']}; baseline = benchmarks/plain_dcgan.py (fp32, no EMA).")


if __name__ == "__main__":
    main()
