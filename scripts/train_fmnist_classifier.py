"""Train the Fashion-MNIST classifier shipped as ganzoo/metrics/weights/fmnist.safetensors.

Trains ``FMNISTClassifier`` on the 60k-image train split from a fixed seed, reports accuracy on
the held-out 10k test split (never used for any choice during training), refuses to write
weights below ``--min-accuracy``, and prints the file's sha256 for
``ganzoo.metrics.fmnist.FMNIST_WEIGHTS_SHA256``.

    python scripts/train_fmnist_classifier.py            # about 2 min on 2 idle CPU cores

The train split comes from Debian's ``dataset-fashion-mnist`` package
(``apt-get install -y dataset-fashion-mnist``); the test split also ships in the repo.
Results are bit-for-bit repeatable for a given seed, torch build, CPU and thread count.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganzoo.metrics.fmnist import FMNIST_ARCH, FMNIST_WEIGHTS_PATH, FMNISTClassifier  # noqa: E402
from ganzoo.metrics.networks import file_sha256  # noqa: E402

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
REPO_DIR = ROOT / "ganzoo" / "data" / "fashion_mnist"
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx_gz(path: Path) -> np.ndarray:
    """Read a gzipped IDX file: 2 zero bytes, a dtype code, the rank, then big-endian int32 dims."""
    data = gzip.decompress(path.read_bytes())
    if data[0:2] != b"\0\0" or data[2] not in IDX_DTYPES:
        raise SystemExit(f"{path} is not an IDX file (bad magic {data[:4].hex()}).")
    rank = data[3]
    dims = np.frombuffer(data, dtype=">i4", count=rank, offset=4)
    arr = np.frombuffer(data, dtype=IDX_DTYPES[data[2]], offset=4 + 4 * rank)
    return arr.reshape(tuple(int(d) for d in dims))


def load_split(folder: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images_path = folder / f"{prefix}-images-idx3-ubyte.gz"
    labels_path = folder / f"{prefix}-labels-idx1-ubyte.gz"
    for p in (images_path, labels_path):
        if not p.is_file():
            raise SystemExit(
                f"{p} is missing; install it with `apt-get install -y dataset-fashion-mnist` "
                "or pass --data-dir."
            )
    images = torch.from_numpy(read_idx_gz(images_path).astype(np.float32))
    labels = torch.from_numpy(read_idx_gz(labels_path).astype(np.int64))
    return (images / 127.5 - 1.0).unsqueeze(1), labels


def canonical_safetensors(blob: bytes) -> bytes:
    """Rewrite a safetensors header with sorted keys so equal weights give an equal sha256.

    safetensors writes its JSON header (metadata included) in hash-map order, which differs
    between runs; the tensor bytes after it are already deterministic.
    """
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + size])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + blob[8 + size :]


@torch.no_grad()
def accuracy(model: FMNISTClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(images), 1000):
        pred = model.logits(images[start : start + 1000]).argmax(dim=1)
        correct += int((pred == labels[start : start + 1000]).sum())
    return correct / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=SYSTEM_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-accuracy", type=float, default=0.90)
    parser.add_argument("--out", type=Path, default=FMNIST_WEIGHTS_PATH)
    args = parser.parse_args()

    from safetensors.torch import save

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()

    train_x, train_y = load_split(args.data_dir, "train")
    has_test = (args.data_dir / "t10k-images-idx3-ubyte.gz").is_file()
    test_x, test_y = load_split(args.data_dir if has_test else REPO_DIR, "t10k")

    model = FMNISTClassifier()
    steps_per_epoch = len(train_x) // args.batch_size
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.2
    )
    for epoch in range(args.epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(train_x)))
        flips = torch.from_numpy(rng.random(len(train_x)) < 0.5)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch_size : (step + 1) * args.batch_size]
            x = train_x[idx]
            # Horizontal flips keep every Fashion-MNIST class a valid member of its class.
            x = torch.where(flips[idx, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(model.logits(x), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(
            f"epoch {epoch + 1}/{args.epochs}  loss {total / steps_per_epoch:.4f}  "
            f"{time.perf_counter() - t0:.0f}s",
            flush=True,
        )

    test_acc = accuracy(model, test_x, test_y)
    wall = time.perf_counter() - t0
    print(f"test accuracy {test_acc:.4f} on {len(test_x)} held-out images  ({wall:.0f}s)")
    if test_acc < args.min_accuracy:
        raise SystemExit(
            f"test accuracy {test_acc:.4f} is below --min-accuracy "
            f"{args.min_accuracy}; weights not written."
        )

    recipe = {
        "optimizer": "Adam",
        "lr": args.lr,
        "schedule": "OneCycle(pct_start=0.2)",
        "batch_size": args.batch_size,
        "augment": "hflip p=0.5",
        "threads": args.threads,
        "train_split": "fashion-mnist train (60000)",
        "input": "[-1,1] 28x28 grayscale",
    }
    metadata = {
        "arch": FMNIST_ARCH,
        "recipe": json.dumps(recipe, sort_keys=True),
        "seed": str(args.seed),
        "epochs": str(args.epochs),
        "test_accuracy": f"{test_acc:.4f}",
        "torch_version": torch.__version__,
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(canonical_safetensors(save(state, metadata=metadata)))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(f"sha256 {file_sha256(args.out)}")


if __name__ == "__main__":
    main()
