"""Rebuild every checkpoint of the tiny transformer from the seed: ``python -m r1lib.labs.lm.build``
(``make models``).

The recipe, in order (each stage starts from the *stored*, float16-rounded weights of the one
before it, exactly what :func:`r1lib.labs.lm.load` gives a notebook):

1. ``base``: :func:`stages.pretrain` of the teacher size on the arithmetic corpus;
2. ``r1-zero``: :func:`stages.r1_zero`, GRPO from the base;
3. rejection sampling of r1-zero on training problems (``rejection.json``: the kept outputs);
4. ``student-base``: :func:`stages.pretrain` of the student size on the same corpus;
5. ``student-sft``, ``student-kd``, ``student-rl``, ``student-opd``: the student trained four ways;
6. ``evaluation.json``: every stage on the same fresh test problems (pass@1 with its clustered
   SE, pass@k, maj@k, format and working rates, per-problem counts).

Each stage's log (``<stage>.json``) records its settings, its per-step numbers, its wall time and
the machine's load average before and after (other work on a shared machine slows it down).
``manifest.json`` holds every file's sha256. ``--out DIR`` writes elsewhere (the default is the
checkpoints shipped with r1lib); ``--quick`` runs every stage for a few steps only (a smoke test
of the pipeline, not checkpoints to ship).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from . import arithmetic as task
from . import checkpoints as ckpt
from . import stages

SEED = 0
# Every stage's settings; the logs record them, and the reproduction test reads them back.
RECIPE: dict[str, dict[str, Any]] = {
    "base": dict(steps=1300, batch_size=64, lr=2e-3, warmup=30, final_lr_ratio=0.1, seed=SEED),
    "r1-zero": dict(steps=200, prompts_per_step=16, group_size=8, lr=1.5e-4, beta=0.001, epsilon=0.2,
                    minibatches=2, seed=SEED + 1),
    "rejection": dict(n_prompts=2000, n_samples=4, temperature=1.0, seed=SEED + 2),
    "student-base": dict(steps=1300, batch_size=64, lr=3e-3, warmup=30, final_lr_ratio=0.1, seed=SEED + 3),
    "student-sft": dict(steps=300, batch_size=64, lr=1e-3, seed=SEED + 4),
    "student-kd": dict(steps=300, batch_size=64, lr=1e-3, temperature=1.0, seed=SEED + 5),
    # the same RL as r1-zero's (on this student it collapses into format-only answers at every
    # learning rate tried, 1e-4 to 3e-4: the small model never finds the working by itself)
    "student-rl": dict(steps=200, prompts_per_step=16, group_size=8, lr=1.5e-4, beta=0.001, epsilon=0.2,
                       minibatches=2, seed=SEED + 6),
    "student-opd": dict(steps=200, prompts_per_step=32, samples_per_prompt=2, lr=5e-4, seed=SEED + 7),
    # sampling temperature 1 (R1-Zero's RL setting) and R1's evaluation setting (0.6, top-p 0.95)
    "evaluation": dict(n_problems=300, n=16, samplings=[[1.0, 1.0], [0.6, 0.95]], seed=SEED + 8),
}
QUICK = {"steps": 2, "n_prompts": 8, "n_problems": 8, "n": 4}  # --quick: a smoke test of the pipeline


def _settings(stage: str, quick: bool) -> dict[str, Any]:
    s = dict(RECIPE[stage])
    if quick:
        s.update({k: v for k, v in QUICK.items() if k in s})
    return s


def _units(stage: str, s: dict[str, Any]) -> int:
    """Progress-bar units of a stage: training steps, or sampling batches."""
    if stage == "rejection":
        return -(-s["n_prompts"] // 250)
    if stage == "evaluation":
        return len(s["samplings"]) * len(ckpt.STAGES) * -(-s["n_problems"] // 64)
    return s["steps"]


class _Bar:
    """tqdm when it is installed (it is with r1lib[grading] and in `make models`), else a line per stage."""

    def __init__(self, total: int) -> None:
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm ships with the grading extra
            tqdm = None
        self.bar = tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True) if tqdm else None

    def stage(self, name: str) -> Callable[[int], None]:
        if self.bar is not None:
            self.bar.set_description(name)
            return self.bar.update
        print(f"[build] {name} ...", file=sys.stderr, flush=True)
        return lambda n: None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def build(out: Optional[Path] = None, *, quick: bool = False) -> dict:
    """Run the whole recipe, write the checkpoints, logs, evaluation and manifest to ``out``.

    Returns the evaluation metrics per stage.
    """
    out = ckpt.DIRECTORY if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {stage: _settings(stage, quick) for stage in RECIPE}
    bar = _Bar(sum(_units(stage, s) for stage, s in settings.items()))
    meta: dict[str, Any] = {"seed": SEED, "quick": quick, "numpy": np.__version__,
                            "python": platform.python_version(), "machine": platform.machine(),
                            "cpus": os.cpu_count(), "wall_seconds": {}}

    def run(stage: str, fn: Callable[[Callable[[int], None]], tuple]) -> Any:
        progress = bar.stage(stage)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = fn(progress)
        log = result[1] if isinstance(result, tuple) else result
        log["wall_seconds"] = round(time.perf_counter() - t0, 2)
        log["load_before"] = round(load_before, 2)
        log["load_after"] = round(os.getloadavg()[0], 2)
        meta["wall_seconds"][stage] = log["wall_seconds"]
        return result

    def save(stage: str, model, log: dict):
        ckpt.save(model, stage, out)
        ckpt.save_log(log, stage, out)
        ckpt.write_manifest(meta, out)

    def stored(stage: str):
        """The stage's weights as a notebook loads them (float16-rounded, hash-checked)."""
        return ckpt.load(stage, out)

    # 1. the base
    s = settings["base"]
    model, log = run("base", lambda p: stages.pretrain(stages.TEACHER, progress=p, **s))
    save("base", model, log)
    base = stored("base")
    # 2. R1-Zero
    s = settings["r1-zero"]
    model, log = run("r1-zero", lambda p: stages.r1_zero(base, progress=p, **s))
    save("r1-zero", model, log)
    teacher = stored("r1-zero")
    # 3. rejection sampling
    s = settings["rejection"]
    kept = run("rejection", lambda p: stages.rejection_sample(teacher, progress=p, **s))
    if quick and not kept["completions"]:  # a two-step teacher is never right: stand-in data
        kept["prompts"], _ = task.problems(8, split="train", rng=np.random.default_rng(0))
        kept["completions"] = [task.worked_solution(task.question_of(p)) + "<eos>" for p in kept["prompts"]]
    ckpt.save_log(kept, "rejection", out)
    # 4. the student's base
    s = settings["student-base"]
    model, log = run("student-base", lambda p: stages.pretrain(stages.STUDENT, progress=p, **s))
    save("student-base", model, log)
    student = stored("student-base")
    # 5. the student four ways
    s = settings["student-sft"]
    model, log = run("student-sft", lambda p: stages.sft(stages.copy_model(student), kept, progress=p, **s))
    save("student-sft", model, log)
    s = settings["student-kd"]
    model, log = run("student-kd", lambda p: stages.distill(stages.copy_model(student), teacher, kept,
                                                            progress=p, **s))
    save("student-kd", model, log)
    s = settings["student-rl"]
    model, log = run("student-rl", lambda p: stages.grpo(stages.copy_model(student), student, progress=p, **s))
    log["stage"] = "student-rl"
    save("student-rl", model, log)
    s = settings["student-opd"]
    model, log = run("student-opd", lambda p: stages.on_policy_distill(stages.copy_model(student), teacher,
                                                                      progress=p, **s))
    save("student-opd", model, log)
    # 6. evaluation of every stage on the same test problems and the same sampling seed
    s = settings["evaluation"]
    prompts, golds = task.problems(s["n_problems"], split="test", rng=np.random.default_rng(s["seed"]))

    def evaluate_all(progress):
        results: dict[str, Any] = {"settings": s, "prompts": prompts, "golds": golds, "evaluations": []}
        for temperature, top_p in s["samplings"]:
            run_ = {"temperature": temperature, "top_p": top_p, "stages": {}}
            for stage in ckpt.STAGES:
                ev = stages.evaluate(stored(stage), prompts, golds, n=s["n"], temperature=temperature,
                                     top_p=top_p, seed=s["seed"] + 1, progress=progress)
                # per problem: how many of the n samples were correct, wrote working, kept the format
                run_["stages"][stage] = dict(ev.metrics(), correct_counts=ev.correct.sum(axis=1).tolist(),
                                             working_counts=ev.working.sum(axis=1).tolist(),
                                             formatted_counts=ev.formatted.sum(axis=1).tolist())
            results["evaluations"].append(run_)
        return results

    results = run("evaluation", evaluate_all)
    ckpt.save_log(results, "evaluation", out)
    bar.close()
    ckpt.write_manifest(meta, out)
    return results


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m r1lib.labs.lm.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: r1lib's checkpoints)")
    parser.add_argument("--quick", action="store_true", help="a few steps per stage: a smoke test")
    args = parser.parse_args(argv)
    results = build(args.out, quick=args.quick)
    for run_ in results["evaluations"]:
        print(f"temperature {run_['temperature']}, top-p {run_['top_p']}:")
        for stage, m in run_["stages"].items():
            ks = ", ".join(f"pass@{k} {v:.3f}" for k, v in m["pass@k"].items() if k != "1")
            print(f"  {stage:13s} pass@1 {m['pass@1']:.3f} +- {m['pass@1_se']:.3f}  {ks}  "
                  f"format {m['format']:.2f}  length {m['length']:.1f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
