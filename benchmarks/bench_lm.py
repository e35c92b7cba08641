"""Benchmark: the tiny transformer (r1lib.labs.lm) against the same model in PyTorch on the CPU (issue 19).

Rows, all measured in one run:

* a training step (forward, cross-entropy backward, gradient clipping, AdamW) of r1lib's NumPy
  model against the same architecture written with torch's own modules (nn.Embedding,
  nn.LayerNorm, nn.Linear, scaled_dot_product_attention, tanh GELU, torch.optim.AdamW), float32,
  the same weights and batch; torch at its faster setting of 1 or 2 threads. Target <= 1.5x torch.
* model FLOPs utilisation: the step's matrix-product FLOPs (3 x the forward's: 2 x matrix parameters
  x tokens, plus attention's Q K^T and P V) per second, against NumPy's float32 GEMM rate on a
  square (1024, 1024) @ (1024, 1024) product measured in the same run (what the machine's BLAS
  reaches at best; the step's own products are far smaller);
* sampling throughput (new tokens/s) with and without the key/value cache;
* for information: agreement of the step's loss and gradients with torch's.

    .venv/bin/python benchmarks/bench_lm.py            # this benchmark alone
    .venv/bin/python benchmarks/bench_lm.py --quick    # fewer rounds
    .venv/bin/python benchmarks/run.py --only lm       # the same, inside the suite
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from r1lib.labs import lm  # noqa: E402

from r1lib.labs.lm import stages  # noqa: E402

# The two models the recipe trains (stages.TEACHER: d 128, 4 layers; stages.STUDENT: d 48,
# 3 layers), so the rows say how long the notebook's own training steps take.
CONFIGS = {
    "teacher d128 L4 H4": stages.TEACHER,
    "student d48 L3 H4": stages.STUDENT,
}
BATCH, SEQ = 64, 60          # 64 sequences of 60 tokens (inputs), 3840 tokens per step
SAMPLE_PROMPTS, SAMPLE_N, SAMPLE_NEW = 16, 8, 48   # 128 rows, 48 new tokens each
LR, CLIP = 1e-3, 1.0


# ------------------------------------------------------------------------------------ the two steps

def batch(cfg: lm.Config, seed: int = 19) -> tuple[np.ndarray, np.ndarray]:
    ids = np.random.default_rng(seed).integers(0, cfg.vocab_size, (BATCH, SEQ + 1))
    return ids[:, :-1], ids[:, 1:]


def numpy_step(model: lm.Transformer, inputs: np.ndarray, targets: np.ndarray) -> Callable[[], tuple]:
    """r1lib: mean next-token cross-entropy, backward, clip, AdamW (what pretraining/SFT run)."""
    opt = lm.AdamW(model.params, lr=LR, decay=model.decay_names)

    def step():
        logp, cache = model.token_log_probs(inputs, targets)
        grads = model.token_log_probs_backward(cache, np.full_like(logp, -1.0 / logp.size))
        lm.clip_grad_norm(grads, CLIP)
        opt.step(grads)
        return -float(logp.mean()), grads
    return step


def torch_model(torch, model: lm.Transformer):
    """The same architecture in idiomatic PyTorch, with ``model``'s weights copied in."""
    nn, F = torch.nn, torch.nn.functional
    cfg = model.config

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d = cfg.d_model
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp_in, self.mlp_out = nn.Linear(d, cfg.d_mlp), nn.Linear(cfg.d_mlp, d)

        def forward(self, x):
            B, T, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            q, k, v = (a.view(B, T, cfg.n_heads, cfg.d_head).transpose(1, 2) for a in (q, k, v))
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out(o.transpose(1, 2).reshape(B, T, d))
            return x + self.mlp_out(F.gelu(self.mlp_in(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
            self.pos = nn.Embedding(cfg.context, cfg.d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(cfg.n_layers))
            self.ln_f = nn.LayerNorm(cfg.d_model)
            self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    net = GPT()
    p = {k: torch.from_numpy(v.copy()) for k, v in model.params.items()}
    with torch.no_grad():
        net.tok.weight.copy_(p["tok_emb"])
        net.pos.weight.copy_(p["pos_emb"])
        for i, blk in enumerate(net.blocks):
            b = f"block{i}."
            for ln, name in ((blk.ln1, "ln1"), (blk.ln2, "ln2")):
                ln.weight.copy_(p[b + name + ".gamma"])
                ln.bias.copy_(p[b + name + ".beta"])
            for lin, name in ((blk.qkv, "attn.qkv"), (blk.out, "attn.out"), (blk.mlp_in, "mlp.in"),
                              (blk.mlp_out, "mlp.out")):
                lin.weight.copy_(p[b + name + ".w"].T)  # torch stores (out, in)
                lin.bias.copy_(p[b + name + ".b"])
        net.ln_f.weight.copy_(p["ln_f.gamma"])
        net.ln_f.bias.copy_(p["ln_f.beta"])
        net.head.weight.copy_(p["head.w"].T)
    return net


def torch_step(torch, model: lm.Transformer, inputs: np.ndarray, targets: np.ndarray) -> Callable[[], tuple]:
    F = torch.nn.functional
    net = torch_model(torch, model)
    decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.ndim == 2
             and not n.startswith(("tok", "pos"))]
    no_decay = [p for n, p in net.named_parameters() if not any(p is q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR)
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = net(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP)
        opt.step()
        return float(loss.detach()), net
    return step


def torch_grads_by_name(net) -> dict[str, np.ndarray]:
    """torch's gradients under r1lib's parameter names (and r1lib's (in, out) layout)."""
    g = {n: p.grad.numpy() for n, p in net.named_parameters()}
    out = {"tok_emb": g["tok.weight"], "pos_emb": g["pos.weight"], "ln_f.gamma": g["ln_f.weight"],
           "ln_f.beta": g["ln_f.bias"], "head.w": g["head.weight"].T}
    for i in range(len(net.blocks)):
        b, t = f"block{i}.", f"blocks.{i}."
        for ours, theirs in (("ln1", "ln1"), ("ln2", "ln2")):
            out[b + ours + ".gamma"], out[b + ours + ".beta"] = g[t + theirs + ".weight"], g[t + theirs + ".bias"]
        for ours, theirs in (("attn.qkv", "qkv"), ("attn.out", "out"), ("mlp.in", "mlp_in"), ("mlp.out", "mlp_out")):
            out[b + ours + ".w"], out[b + ours + ".b"] = g[t + theirs + ".weight"].T, g[t + theirs + ".bias"]
    return out


# ------------------------------------------------------------------------------------ FLOPs

def step_flops(cfg: lm.Config, B: int, T: int) -> float:
    """Matrix-product FLOPs of one training step: forward 2 x (matrix parameters) per token plus
    attention's Q K^T and P V (2 x 2 x T^2 x d per row and layer, the full square as computed);
    backward twice the forward. Embedding lookups, norms and element-wise work are not counted."""
    d, m, V = cfg.d_model, cfg.d_mlp, cfg.vocab_size
    matrix_params = cfg.n_layers * (3 * d * d + d * d + 2 * d * m) + d * V
    forward = 2 * matrix_params * B * T + cfg.n_layers * 4 * B * T * T * d
    return 3.0 * forward


# The machine's float32 GEMM rate is quoted on a product large enough for BLAS to reach its best
# rate. A product of the step's own size (e.g. (2048, 128) @ (128, 384)) runs below it, which made
# the "utilisation" exceed 1 on 2 threads (1.49) and said nothing about the machine.
GEMM_SHAPE = ((1024, 1024), (1024, 1024))


def gemm_contender() -> tuple[Callable[[], Any], float]:
    """A float32 GEMM_SHAPE product and its FLOPs: timed beside the step, it gives the machine's
    GEMM rate at that moment (MFU's denominator), the same for every config."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(GEMM_SHAPE[0], dtype=np.float32)
    b = rng.standard_normal(GEMM_SHAPE[1], dtype=np.float32)
    return (lambda: a @ b), 2.0 * a.shape[0] * a.shape[1] * b.shape[1]


# ------------------------------------------------------------------------------------ the rows

def blas_threads() -> tuple[Any, list[int]]:
    """threadpoolctl's controller (if installed) and the BLAS thread counts to try: NumPy's default
    and 1. On a shared machine a 2-thread OpenBLAS can be several times slower than 1 thread when
    the other core is busy, so r1lib is timed at both, as torch is."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None, []
    controller = ThreadpoolController()
    blas = controller.select(user_api="blas")
    default = max((info["num_threads"] for info in blas.info()), default=1)
    return controller, sorted({default, 1}, reverse=True)


def time_step_pairs(torch, ours: Callable, theirs: Callable, gemm: Callable,
                    rounds: int) -> dict[int, dict[str, float]]:
    """Median seconds of r1lib's step, torch's step and one GEMM, interleaved, with NumPy's BLAS
    and torch on the same number of threads: NumPy's default (the usable cores) and 1. Each
    setting is its own group, so torch's spinning workers never slow another setting's rounds."""
    from contextlib import nullcontext

    controller, counts = blas_threads()
    torch_default = torch.get_num_threads()
    out = {}
    try:
        for n in counts or [torch_default]:
            with controller.limit(limits=n, user_api="blas") if controller else nullcontext():
                torch.set_num_threads(n)
                out[n] = _interleaved({"r1lib": ours, "torch": theirs, "gemm": gemm}, rounds)
    finally:
        torch.set_num_threads(torch_default)
    return out


def _interleaved(contenders: dict[str, Callable], rounds: int) -> dict[str, float]:
    """Median wall time of each contender (round-robin), plus ``<name> cpu``: the median CPU time
    of the calling thread, which on a shared machine is the steadier measure of work when the
    contender runs on one thread (time spent waiting for a core is not counted)."""
    for fn in contenders.values():
        fn()
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, fn in contenders.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            fn()
            times.setdefault(name + " cpu", []).append(time.thread_time() - cpu)
            times.setdefault(name, []).append(time.perf_counter() - wall)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_lm(rounds: int, interleaved: Callable, row: Callable, torch_vs_r1lib: Optional[Callable] = None) -> None:
    """Rows for benchmarks/run.py (and for this file's main). The NumPy-only sampling rows come
    first: torch's worker threads keep spinning after its calls and would slow NumPy.
    (``torch_vs_r1lib`` is accepted for the suite's calling convention; this benchmark also varies
    NumPy's BLAS threads, so it times its own groups.)"""
    try:
        import torch
    except ImportError:
        torch = None
    for label, cfg in CONFIGS.items():
        bench_sampling(cfg, label, rounds, row)
    for label, cfg in CONFIGS.items():
        model = lm.Transformer.init(cfg, np.random.default_rng(0))
        inputs, targets = batch(cfg)
        op = f"lm train step {label} ({model.n_params / 1e6:.2f}M params), {BATCH}x{SEQ} tokens f32"
        ours = numpy_step(model, inputs, targets)
        gemm, gemm_flops = gemm_contender()
        if torch is None:
            med = interleaved({"r1lib": ours, "gemm": gemm}, rounds)
            r, g, note = med["r1lib"], med["gemm"], "NumPy's default BLAS threads"
            row(op, r, "torch (not installed: pip install -e '.[bench]')", None, None, "<= 1.5x torch", None)
        else:
            theirs = torch_step(torch, lm.Transformer.init(cfg, np.random.default_rng(0)), inputs, targets)
            groups = time_step_pairs(torch, ours, theirs, gemm, rounds)
            n_r, best_r = min(groups.items(), key=lambda kv: kv[1]["r1lib"])   # each at its faster
            n_t, best_t = min(groups.items(), key=lambda kv: kv[1]["torch"])   # thread count
            r, t, g = best_r["r1lib"], best_t["torch"], best_r["gemm"]
            note = f"{n_r} thread(s)"
            row(op + f", r1lib on {n_r} BLAS thread(s)", r, f"torch CPU, same model + AdamW ({n_t} thread(s))",
                t, r / t, "<= 1.5x torch", r / t <= 1.5,
                note="r1lib / torch with both on n threads, wall time: " + ", ".join(
                    f"n={n}: {m['r1lib'] / m['torch']:.3g}x ({m['r1lib'] * 1e3:.0f} / {m['torch'] * 1e3:.0f} ms)"
                    for n, m in groups.items())
                    + (f"; CPU time of the one thread at n=1: {groups[1]['r1lib cpu'] / groups[1]['torch cpu']:.3g}x "
                       f"({groups[1]['r1lib cpu'] * 1e3:.0f} / {groups[1]['torch cpu'] * 1e3:.0f} ms)" if 1 in groups else ""))
            agreement(torch, cfg, row, op)
        flops, rate = step_flops(cfg, BATCH, SEQ), gemm_flops / g
        row(op + ", MFU", flops / r / rate, f"{flops / 1e9:.1f} GFLOP per step at {flops / r / 1e9:.0f} GFLOP/s",
            None, None, "(info)", None, unit="",
            note=f"model FLOPs per second / NumPy's float32 GEMM rate measured beside the step "
                 f"({rate / 1e9:.0f} GFLOP/s for {GEMM_SHAPE[0]} @ {GEMM_SHAPE[1]}), {note}")


def agreement(torch, cfg: lm.Config, row: Callable, op: str) -> None:
    """First step from the same weights: loss and every gradient, r1lib vs torch, both float32."""
    model = lm.Transformer.init(cfg, np.random.default_rng(1))
    inputs, targets = batch(cfg, seed=2)
    logp, cache = model.token_log_probs(inputs, targets)
    grads = model.token_log_probs_backward(cache, np.full_like(logp, -1.0 / logp.size))
    net = torch_model(torch, model)
    logits = net(torch.from_numpy(inputs))
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size), torch.from_numpy(targets).reshape(-1))
    loss.backward()
    tg = torch_grads_by_name(net)
    err = max(float(np.abs(grads[k] - tg[k]).max() / np.abs(tg[k]).max()) for k in grads)
    loss_err = abs(-float(logp.mean()) - loss.item()) / loss.item()
    row(op + " agreement", err, f"max relative gradient difference to torch (loss: {loss_err:.1e})", None, None,
        "(info) float32 rounding", None, unit="")


def bench_sampling(cfg: lm.Config, label: str, rounds: int, row: Callable) -> None:
    """New tokens per second: 16 prompts x 8 samples, 48 new tokens each (a random model rarely
    stops early), with the key/value cache and with full recomputation at every step, interleaved
    (the recomputation is slow, so a third of the rounds, at least 3), at NumPy's default BLAS
    threads and at 1 (the cached steps' matrix products are small: (128, d) @ (d, 3d))."""
    from contextlib import nullcontext

    model = lm.Transformer.init(cfg, np.random.default_rng(0))
    prompts = [lm.encode(f"{a}+{b}=") for a, b in zip(range(100, 116), range(900, 884, -1))]
    controller, counts = blas_threads()
    rates: dict[int, tuple[float, float]] = {}
    tokens = 0
    for n in counts or [0]:
        times: dict[bool, list[float]] = {True: [], False: []}
        with controller.limit(limits=n, user_api="blas") if controller else nullcontext():
            for i in range(max(3, rounds // 3)):
                for use_cache in (True, False):
                    start = time.perf_counter()
                    s = lm.sample(model, prompts, n=SAMPLE_N, max_new_tokens=SAMPLE_NEW,
                                  rng=np.random.default_rng(i), use_cache=use_cache)
                    times[use_cache].append(time.perf_counter() - start)
                    tokens = int(s.lengths.sum())
        rates[n] = (tokens / statistics.median(times[True]), tokens / statistics.median(times[False]))
    n_best, (cached, full) = max(rates.items(), key=lambda kv: kv[1][0])
    threads = f"{n_best} BLAS thread(s)" if n_best else "NumPy's default BLAS threads"
    row(f"lm sampling {label}, {SAMPLE_PROMPTS * SAMPLE_N} rows x {SAMPLE_NEW} new tokens, KV cache, {threads}",
        cached, "full recomputation per step", full, cached / full, "(info: speed-up)", None, unit=" tok/s",
        note=f"{tokens} new tokens per call; tok/s (cached, recomputed) by BLAS threads: "
             + ", ".join(f"{k}: {a:.0f}, {b:.0f}" for k, (a, b) in rates.items()))


def main(argv: Optional[list[str]] = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import timing  # the suite's machinery: interleaving, rows, the table

    rounds = 5 if argv and "--quick" in argv else 11
    bench_lm(rounds, timing.interleaved, timing.row)
    timing.print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
