"""Benchmark: r1lib.grpo_loss + grpo_loss_grad against the same computation in PyTorch (issue 13).

(64, 4096) float32 per-token log-probs with padding (completion lengths drawn uniformly from
[256, 4096]), one advantage per completion. The PyTorch contender is TRL GRPOTrainer's loss
written out here for the same switches (forward + ``backward()`` for the gradient): exactly the
work a trainer does per step on these tensors. r1lib answers with two calls, ``grpo_loss`` and
``grpo_loss_grad``, each validating its input.

    .venv/bin/python benchmarks/bench_grpo_loss.py            # this benchmark alone
    .venv/bin/python benchmarks/run.py --only grpo_loss       # the same, inside the suite
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import r1lib  # noqa: E402

SHAPE = (64, 4096)
CONFIGS = [  # (label, grpo_loss keyword arguments)
    ("dapo, beta=0 (TRL default)", dict(loss_type="dapo")),
    ("grpo, k3 beta=0.04, clip-higher", dict(loss_type="grpo", beta=0.04, kl="k3", epsilon_high=0.28)),
    ("GSPO sequence ratio, dapo", dict(loss_type="dapo", importance_sampling_level="sequence",
                                       epsilon=3e-4, epsilon_high=4e-4)),
]


def make_inputs(seed: int = 13, dtype=np.float32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    B, T = SHAPE
    lengths = rng.integers(256, T + 1, size=B)
    mask = np.arange(T)[None, :] < lengths[:, None]
    logp = np.log(rng.uniform(0.05, 1.0, size=SHAPE))
    old = np.minimum(logp + rng.normal(scale=0.05, size=SHAPE), 0.0)  # a little off-policy
    ref = np.minimum(logp + rng.normal(scale=0.2, size=SHAPE), 0.0)
    for a in (logp, old, ref):
        a[~mask] = 0.0  # what a padded batch holds
    adv = rng.normal(size=B)
    return dict(logp=logp.astype(dtype), old=old.astype(dtype), ref=ref.astype(dtype), adv=adv.astype(dtype),
                mask=mask)


def torch_trl(torch, inputs: dict, kw: dict) -> Callable[[], tuple[float, Any]]:
    """TRL's _compute_loss for these switches in PyTorch: returns a closure (loss, d loss / d logp)."""
    lp = torch.from_numpy(inputs["logp"]).requires_grad_()
    old = torch.from_numpy(inputs["old"])
    ref = torch.from_numpy(inputs["ref"])
    adv = torch.from_numpy(inputs["adv"]).unsqueeze(1)
    mask = torch.from_numpy(inputs["mask"].astype(np.float32))
    eps = kw.get("epsilon", 0.2)
    eps_high = kw.get("epsilon_high") or eps
    beta = kw.get("beta", 0.0)
    sequence = kw.get("importance_sampling_level", "token") == "sequence"
    loss_type = kw.get("loss_type", "grpo")

    def step():
        lp.grad = None
        log_ratio = lp - old
        if sequence:
            log_w = ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1)
        else:
            log_w = log_ratio
        coef_1 = torch.exp(log_w)
        coef_2 = torch.clamp(coef_1, 1 - eps, 1 + eps_high)
        per_token = -torch.min(coef_1 * adv, coef_2 * adv)
        if beta != 0.0:
            per_token = per_token + beta * (torch.exp(ref - lp) - (ref - lp) - 1)
        if loss_type == "grpo":
            loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
        else:  # dapo / bnpo, one process
            loss = (per_token * mask).sum() / mask.sum().clamp(min=1.0)
        loss.backward()
        return loss.item(), lp.grad.numpy()
    return step


def ours(inputs: dict, kw: dict) -> Callable[[], tuple[float, np.ndarray]]:
    lp, old, adv, mask = inputs["logp"], inputs["old"], inputs["adv"], inputs["mask"]
    extra = dict(kw, ref_logp=inputs["ref"]) if kw.get("beta") else kw

    def step():
        return (r1lib.grpo_loss(lp, old, adv, mask, **extra), r1lib.grpo_loss_grad(lp, old, adv, mask, **extra))
    return step


def ours_one_pass(inputs: dict, kw: dict) -> Callable[[], tuple[float, np.ndarray]]:
    lp, old, adv, mask = inputs["logp"], inputs["old"], inputs["adv"], inputs["mask"]
    extra = dict(kw, ref_logp=inputs["ref"]) if kw.get("beta") else kw
    return lambda: r1lib.grpo_loss_and_grad(lp, old, adv, mask, **extra)


def bench_grpo_loss(rounds: int, interleaved: Callable, row: Callable, torch_vs_r1lib: Callable) -> None:
    """Rows for benchmarks/run.py: time ratio against torch, and agreement with it."""
    try:
        import torch
    except ImportError:
        torch = None
    inputs = make_inputs()
    op0 = "grpo_loss+grpo_loss_grad (64, 4096) f32 padded"
    for label, kw in CONFIGS:
        op = f"{op0}, {label}"
        mine = ours(inputs, kw)
        if torch is None:
            row(op, interleaved({"r1lib": mine}, rounds)["r1lib"], "torch (not installed: pip install -e '.[bench]')",
                None, None, ">= 1x (no slower than torch)", None)
            continue
        theirs = torch_trl(torch, inputs, kw)
        ratios = torch_vs_r1lib(mine, theirs, rounds)
        threads, best = min(ratios.items(), key=lambda item: item[1])
        r = interleaved({"r1lib": mine}, rounds)["r1lib"]
        row(op, r, f"torch TRL loss+backward, its faster setting ({threads} thread(s))", best * r, best,
            ">= 1x (no slower than torch)", best >= 1,
            note="torch/r1lib: " + ", ".join(f"torch on {k} thread(s) {v:.3g}x" for k, v in ratios.items()))
        # For information: loss and gradient from one call (one check, one pass over the batch).
        one = ours_one_pass(inputs, kw)
        ratios1 = torch_vs_r1lib(one, theirs, rounds)
        threads1, best1 = min(ratios1.items(), key=lambda item: item[1])
        r1 = interleaved({"one": one}, rounds)["one"]
        row(op + ", grpo_loss_and_grad (one call)", r1, f"torch TRL loss+backward ({threads1} thread(s))",
            best1 * r1, best1, "(info)", None,
            note="torch/r1lib: " + ", ".join(f"torch on {k} thread(s) {v:.3g}x" for k, v in ratios1.items()))
        # Agreement: both in float32 against r1lib in float64 on the same inputs.
        v32, g32 = mine()
        vt, gt = theirs()
        inputs64 = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in inputs.items()}
        v64, g64 = ours(inputs64, kw)()
        scale = float(np.abs(g64).max())
        err = max(abs(v32 - v64) / abs(v64), float(np.abs(g32 - g64).max()) / scale)
        err_t = max(abs(vt - v64) / abs(v64), float(np.abs(gt - g64).max()) / scale)
        row(op + " accuracy", err, f"torch float32 vs the same float64: {err_t:.2g}", None, None,
            "rel err <= 1e-4", err <= 1e-4, unit="")


def main(argv: Optional[list[str]] = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import timing  # the suite's machinery: interleaving, rows, the table

    rounds = 7 if argv and "--quick" in argv else 21
    bench_grpo_loss(rounds, timing.interleaved, timing.row, timing.torch_vs_r1lib)
    timing.print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
