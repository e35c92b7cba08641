"""``python -m r1lib.score SAMPLES.jsonl``: the ``r1-score`` command under its documented module name.

The command lives in :mod:`r1lib.grading.score`; this entry point only runs it, so it sits with
``r1lib/__init__.py`` at the package's face, above the layers.
"""
from .grading.score import main

if __name__ == "__main__":
    raise SystemExit(main())
