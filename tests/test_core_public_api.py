"""The public API: every name in __all__ exists, the design's contract names are there, and
importing r1lib needs nothing but NumPy."""
from __future__ import annotations

import subprocess
import sys

import r1lib

CONTRACT = ["softmax", "log_softmax", "kl_divergence", "distillation_loss", "distillation_grad",
            "pass_at_k", "majority_vote", "maj_at_k", "kl_k1", "kl_k2", "kl_k3", "group_advantages"]


def test_all_names_exist_and_contract_is_complete():
    for name in r1lib.__all__:
        assert hasattr(r1lib, name), name
    assert set(CONTRACT) <= set(r1lib.__all__)
    assert len(set(r1lib.__all__)) == len(r1lib.__all__)


def test_public_functions_have_docstrings_with_parameters_or_formula():
    import inspect
    for name in r1lib.__all__:
        obj = getattr(r1lib, name)
        if inspect.isfunction(obj):
            assert obj.__doc__ and len(obj.__doc__.strip()) > 40, name


def test_import_needs_only_numpy():
    code = ("import sys, r1lib; heavy = [m for m in ('matplotlib', 'ipywidgets', 'scipy', 'sklearn', 'IPython') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
