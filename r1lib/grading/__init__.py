r"""r1lib's grading layer: from a model's raw output to a verdict, and from verdicts to a report.

- :mod:`~r1lib.grading.answers`: final-answer extraction (``\boxed{}``, R1-Zero's ``<answer>``
  tags, no-box fallbacks), normalisation to exact canonical values, and the builtin grader
  (no sympy);
- :mod:`~r1lib.grading.graders`: ``is_correct(text, gold, grader="auto"|"math-verify"|"builtin")``,
  ``grade`` and ``grade_many``: Hugging Face's math-verify in worker processes with a time limit,
  or the builtin grader, with a cache of equal pairs; ``GradingPool`` shares the workers and the
  cache across several files;
- :mod:`~r1lib.grading.worker`: the worker process (``python -m r1lib.grading.worker``);
- :mod:`~r1lib.grading.votes`: majority-vote patterns, so maj@k is computed once per pattern;
- the ``r1-score`` command (also ``python -m r1lib.score``): :mod:`~r1lib.grading.reader` (JSON
  Lines as tools write them: lists of outputs, stdin, gzip), :mod:`~r1lib.grading.report` (the
  numbers of one file, the table, the JSON), :mod:`~r1lib.grading.compare` (two runs paired by
  problem), :mod:`~r1lib.grading.audit` (``--per-sample``, ``--grader both``) and
  :mod:`~r1lib.grading.score` (the command line that ties them together).

This layer sits on r1lib's core (metrics, error bars) and below the labs and figures. Importing it
needs only NumPy: math-verify and sympy load in the worker processes, when first asked for.
"""
from .answers import GRADERS, builtin_grade, extract_answer, normalize_answer, parse_answer
from .graders import (DEFAULT_TIME_LIMIT, Grade, GradingPool, grade, grade_many, is_correct,
                      math_verify_available, resolve_grader)

__all__ = ["extract_answer", "normalize_answer", "parse_answer", "builtin_grade", "is_correct", "grade",
           "grade_many", "Grade", "GradingPool", "resolve_grader", "math_verify_available", "DEFAULT_TIME_LIMIT",
           "GRADERS"]
