"""The zoo's quality table: every recipe trained for the same budget, scored the same way.

Each recipe from ``ganzoo zoo list --json`` is trained with ``ganzoo train`` for ``--steps``
steps on one dataset (the embedded Fashion-MNIST by default), then its EMA generator is scored
by ``ganzoo eval`` with one protocol for all rows (``-n`` fakes, the extractor, the seed).
Prints a markdown table; the protocol is printed under it. Real subprocesses, like a user.

The budget is either a number of steps (``--steps``) or wall-clock seconds (``--seconds``):
recipes differ up to 30x in cost per step on a CPU, so "what does ten minutes buy" is often the
fairer question. A timed run is stopped the way a user stops one, with SIGINT (the trainer
finishes the step, saves a checkpoint and exits); the steps and images it reached are in the
table.

    python benchmarks/quality.py --seconds 120 --n 5000
    python benchmarks/quality.py --steps 2000 --n 10000
    python benchmarks/quality.py --steps 20 --n 500 --recipes dcgan          # smoke run
    python benchmarks/quality.py --data fashion-mnist-full --device cuda --steps 20000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory


def ganzoo(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0:
        raise SystemExit(f"ganzoo {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def train_for(seconds: float, args: list[str]) -> None:
    """``ganzoo train ARGS`` stopped by SIGINT after ``seconds`` (it saves, then exits 130)."""
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    if proc.returncode not in (0, 130):
        raise SystemExit(f"ganzoo {' '.join(args)} failed ({proc.returncode}):\n{err}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="training steps per recipe")
    ap.add_argument("--seconds", type=float, default=0,
                    help="train each recipe for this long instead (steps are then a ceiling)")
    ap.add_argument("--n", type=int, default=2000, help="generated images scored per recipe")
    ap.add_argument("--recipes", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--extractor", default="fmnist")
    ap.add_argument("--seed", type=int, default=0, help="training and evaluation seed")
    ap.add_argument("--data", default=None, help="dataset for every recipe (default: each "
                    "recipe's own, the embedded Fashion-MNIST for the built-ins)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--runs-dir", type=Path, default=None,
                    help="keep the runs here (default: a temporary folder)")
    args = ap.parse_args()

    recipes = [r["name"] for r in json.loads(ganzoo("zoo", "list", "--json").stdout)]
    if args.recipes:
        wanted = [r.strip() for r in args.recipes.split(",") if r.strip()]
        missing = sorted(set(wanted) - set(recipes))
        if missing:
            raise SystemExit(f"unknown recipes {missing}; the zoo has {recipes}")
        recipes = wanted

    with TemporaryDirectory() as tmp:
        root = args.runs_dir or Path(tmp)
        rows, protocol = [], None
        for name in recipes:
            steps = 10**7 if args.seconds else args.steps
            run = root / (f"{name}-{args.seconds:g}s" if args.seconds else f"{name}-{steps}")
            train = ["train", "--arch", name, "--steps", str(steps), "--seed",
                     str(args.seed), "--out", str(run), "--device", args.device, "--quiet"]
            if args.data:
                train += ["--data", args.data]
            start = time.perf_counter()
            if args.seconds:
                train_for(args.seconds, train)
            else:
                ganzoo(*train)
            wall = time.perf_counter() - start
            config = json.loads((run / "config.json").read_text())
            t = config["recipe"]["train"]
            reached = max(int(f.stem.split("-")[1])  # the checkpoint eval scores
                          for f in (run / "checkpoints").glob("step-*.safetensors"))
            record = json.loads(ganzoo(
                "eval", str(run), "--metrics", "fd,kd,pr", "-n", str(args.n), "--extractor",
                args.extractor, "--seed", str(args.seed), "--device", args.device,
                "--json").stdout)
            scores, protocol = record["eval"], record["protocol"]
            names = protocol["score_names"]
            images = reached * t["batch"] * t["n_critic"] * config.get("processes", 1)
            rows.append((name, reached, images, scores[names["fd"]], scores[names["kd"]],
                         scores[names["precision"]], scores[names["recall"]], wall,
                         config["device"]))
            print(f"{name}: {names['fd']} {scores[names['fd']]:.2f} ({wall:.0f}s)",
                  file=sys.stderr, flush=True)

    fd, kd = names["fd"], names["kd"]
    print(f"| recipe | steps | images seen | {fd} | {kd} | precision | recall | "
          "train wall (s) | device |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, steps, images, f, k, p, r, wall, device in rows:
        print(f"| {name} | {steps} | {images} | {f:.2f} | {k:.4f} | {p:.3f} | {r:.3f} | "
              f"{wall:.1f} | {device} |")
    print(f"\nProtocol: {protocol['n_fake']} generated vs {protocol['n_real']} reference images "
          f"({protocol['reference']['source']}), extractor {protocol['extractor']} "
          f"(sha256 {protocol['extractor_sha256'][:16]}), seed {protocol['seed']}, "
          f"{protocol['resize']}; precision/recall k={protocol['pr']['k']} on "
          f"{protocol['pr']['n_real']} reals; ganzoo {protocol['ganzoo_version']}.")


if __name__ == "__main__":
    main()
