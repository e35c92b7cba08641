"""The benchmarks' shared machinery: interleaved timing, the result table, the environment.

Every benchmark module (``run.py``, ``bench_grpo_loss.py``, ``bench_grading.py``, ``bench_lm.py``)
imports from here and nothing from each other, except ``run.py``, which collects them all.
Shared machines are noisy: contenders run interleaved, round after round, and the table reports
medians and ratios of medians.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ROWS: list[dict] = []


# --------------------------------------------------------------------------------- machinery

def interleaved(contenders: dict[str, Callable[[], Any]], rounds: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds of each callable, timed round-robin so that load changes hit all alike."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def row(operation: str, r1lib_value: Optional[float], comparison: str, comparison_value: Optional[float],
        ratio: Optional[float], target: str, passed: Optional[bool], unit: str = "s", note: str = "") -> None:
    """One table line. ``ratio`` is oriented as the target states it; ``passed`` None = info only."""
    ROWS.append(dict(operation=operation, r1lib=r1lib_value, comparison=comparison,
                     comparison_value=comparison_value, ratio=ratio, target=target,
                     result="info" if passed is None else ("PASS" if passed else "FAIL"),
                     unit=unit, note=note))


def fmt_value(value: Optional[float], unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"
    if unit == "ms":
        return f"{value:.3g} ms"
    return f"{value:.3g}{unit}"


def print_table() -> None:
    headers = ["operation", "r1lib", "comparison", "ratio", "target", "result"]
    lines = []
    for r in ROWS:
        comp = r["comparison"]
        if r["comparison_value"] is not None:
            comp += f": {fmt_value(r['comparison_value'], r['unit'])}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
        lines.append([r["operation"], fmt_value(r["r1lib"], r["unit"]), comp, ratio, r["target"], r["result"]])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    sep = "  "
    print(sep.join(h.ljust(w) for h, w in zip(headers, widths)))
    print(sep.join("-" * w for w in widths))
    for line in lines:
        print(sep.join(cell.ljust(w) for cell, w in zip(line, widths)))
    for r in ROWS:
        if r["note"]:
            print(f"  note ({r['operation']}): {r['note']}")


def environment() -> dict:
    env: dict[str, Any] = {
        "python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
        "cpu": cpu_model(), "cores": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [(d.get("internal_api"), d.get("architecture"), d.get("num_threads"))
                       for d in threadpool_info()]
    except ImportError:
        pass
    try:
        import scipy

        env["scipy"] = scipy.__version__
    except ImportError:
        env["scipy"] = None
    torch = optional_torch()
    env["torch"] = None if torch is None else f"{torch.__version__} ({torch.get_num_threads()} threads)"
    return env


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def optional_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def optional_scipy_special():
    try:
        from scipy import special
    except ImportError:
        return None
    return special


def torch_vs_r1lib(ours: Callable[[], Any], torch_fn: Callable[[], Any], rounds: int) -> dict[int, float]:
    """``torch time / r1lib time`` for torch at its default thread count and at 1 thread.

    Each setting is timed in its own interleaved group with r1lib only: torch's worker threads
    keep spinning for a while after each call and would slow whatever runs next (NumPy
    contenders included), so torch never shares a group with the NumPy baselines.
    """
    import torch

    default = torch.get_num_threads()
    ratios = {}
    try:
        for threads in dict.fromkeys((default, 1)):
            torch.set_num_threads(threads)
            med = interleaved({"r1lib": ours, "torch": torch_fn}, rounds)
            ratios[threads] = med["torch"] / med["r1lib"]
    finally:
        torch.set_num_threads(default)
    return ratios


@contextmanager
def env_var(name: str, value: str):
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ[name]
        else:
            os.environ[name] = saved


def peak_extra_bytes(fn: Callable[[], Any]) -> int:
    """Peak memory allocated while ``fn`` runs, beyond what existed before (tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
