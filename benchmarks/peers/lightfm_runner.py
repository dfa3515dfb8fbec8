"""Fit LightFM on matrices prepared by kgrec and write its full score matrices (the cold-start peer).

Runs in LightFM's own virtual environment (``benchmarks/peers/setup_lightfm.sh``): it imports only
numpy, scipy and lightfm, never kgrec. ``benchmarks/cold_start.py`` writes the inputs and
evaluates the outputs with kgrec's own evaluator, so both tools are scored by the same code on
the same candidate sets.

Inputs (``--inputs DIR``, written by the caller):

- ``train.npz``: the ``[U, I]`` binary training matrix (``scipy.sparse.save_npz``);
- ``item_features.npz``: the ``[I, F]`` item feature matrix (identity + KG attributes, rows
  normalised by the caller);

Outputs (``--out DIR``): ``scores_<epoch>.npy`` (``[U, I]`` float32, ``s(u, i) = <p_u, q_i> +
b_u + b_i`` from LightFM's user / item representations) after every ``--eval-every`` epochs, and
one JSON line on stdout: ``{"epochs": [...], "files": [...], "seconds_per_epoch": s, "peak_rss_mb": m,
"lightfm": version}``. The caller picks the epoch on validation.

Usage::

    $KGREC_LIGHTFM_PYTHON benchmarks/peers/lightfm_runner.py --inputs IN --out OUT \\
        [--loss warp] [--epochs 100] [--eval-every 10] [--components 64] [--lr 0.05] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--loss", default="warp", choices=["warp", "bpr", "warp-kos", "logistic"])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--item-alpha", type=float, default=0.0)
    parser.add_argument("--user-alpha", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    import lightfm
    from lightfm import LightFM

    train = sp.load_npz(args.inputs / "train.npz").tocoo().astype(np.float32)
    item_features = sp.load_npz(args.inputs / "item_features.npz").tocsr().astype(np.float32)
    if item_features.shape[0] != train.shape[1]:
        print(
            f"expected {train.shape[1]} item feature rows (got {item_features.shape[0]})",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    model = LightFM(
        no_components=args.components,
        loss=args.loss,
        learning_rate=args.lr,
        item_alpha=args.item_alpha,
        user_alpha=args.user_alpha,
        random_state=args.seed,
    )
    epochs, files, seconds = [], [], 0.0
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.fit_partial(train, item_features=item_features, epochs=1, num_threads=args.threads)
        seconds += time.perf_counter() - t0
        if epoch % args.eval_every == 0 or epoch == args.epochs:
            item_bias, item_emb = model.get_item_representations(item_features)
            user_bias, user_emb = model.get_user_representations()
            scores = user_emb @ item_emb.T + user_bias[:, None] + item_bias[None, :]
            path = args.out / f"scores_{epoch}.npy"
            np.save(path, scores.astype(np.float32))
            epochs.append(epoch)
            files.append(str(path))
    print(
        json.dumps(
            {
                "epochs": epochs,
                "files": files,
                "seconds_per_epoch": seconds / max(args.epochs, 1),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "lightfm": lightfm.__version__,
                "loss": args.loss,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
