"""Does the bf16 fast path cost quality? bf16 and fp32 runs of the same budget, several seeds.

For each recipe, ``ganzoo train --precision fp32`` and ``--precision bf16`` run for the same
steps with seeds 0..K-1, then ``ganzoo eval`` scores every EMA generator with one protocol.
The table shows each run's domain score, the mean and standard deviation over seeds per
precision, and the gap between the means in units of the run-to-run noise (the larger of the
two standard deviations): a gap within about one such unit is "the same within noise".

    python benchmarks/precision_quality.py --recipes dcgan,sngan --seeds 3 --steps 600
    python benchmarks/precision_quality.py --recipes sngan --set generator.ngf=32 \\
        --set discriminator.ndf=32
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).parent))
from quality import ganzoo  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default="dcgan,sngan")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--n", type=int, default=5000, help="generated images scored per run")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="recipe overrides for every run (KEY=VALUE)")
    ap.add_argument("--runs-dir", type=Path, default=None)
    args = ap.parse_args()

    rows = []
    with TemporaryDirectory() as tmp:
        root = args.runs_dir or Path(tmp)
        for recipe in [r.strip() for r in args.recipes.split(",") if r.strip()]:
            scores: dict[str, list[float]] = {"fp32": [], "bf16": []}
            walls: dict[str, float] = {"fp32": 0.0, "bf16": 0.0}
            fd_name = "fd"
            for seed in range(args.seeds):
                for precision in ("fp32", "bf16"):
                    run = root / f"{recipe}-{precision}-{seed}"
                    start = time.perf_counter()
                    ganzoo("train", "--arch", recipe, "--steps", str(args.steps), "--seed",
                           str(seed), "--precision", precision, "--out", str(run), "--quiet",
                           *[a for o in args.overrides for a in ("--set", o)])
                    walls[precision] += time.perf_counter() - start
                    record = json.loads(ganzoo("eval", str(run), "--metrics", "fd", "-n",
                                               str(args.n), "--json").stdout)
                    fd_name = record["protocol"]["score_names"]["fd"]
                    scores[precision].append(record["eval"][fd_name])
                    print(f"{recipe} {precision} seed {seed}: {fd_name} "
                          f"{scores[precision][-1]:.2f}", file=sys.stderr, flush=True)
            rows.append((recipe, fd_name, scores, walls))

    print(f"\n# {args.steps} steps per run, seeds 0..{args.seeds - 1}, {args.n} samples per "
          f"score{', overrides ' + ' '.join(args.overrides) if args.overrides else ''}")
    print("| recipe | precision | score per seed | mean | std | train s/run | gap / noise |")
    print("|---|---|---|---:|---:|---:|---:|")
    for recipe, fd_name, scores, walls in rows:
        means = {p: statistics.mean(v) for p, v in scores.items()}
        stds = {p: statistics.stdev(v) if len(v) > 1 else float("nan")
                for p, v in scores.items()}
        noise = max(stds.values())
        for precision in ("fp32", "bf16"):
            gap = ("" if precision == "fp32"
                   else f"{(means['bf16'] - means['fp32']) / noise:+.2f}")
            per_seed = ", ".join(f"{v:.1f}" for v in scores[precision])
            print(f"| {recipe} | {precision} | {fd_name} {per_seed} | {means[precision]:.2f} | "
                  f"{stds[precision]:.2f} | {walls[precision] / args.seeds:.0f} | {gap} |")


if __name__ == "__main__":
    main()
