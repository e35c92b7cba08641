"""A wheel of r1lib ships every sub-package, every module and every data file of the source tree,
and the r1-score console script points at the command (what Binder's and Colab's non-editable
installs get; an editable install would hide a missing sub-package)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("*.py", "*.npz", "*.json")  # code, and the tiny transformer's checkpoints and logs


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("r1lib-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_ships_every_file_of_the_package(wheel):
    names = set(wheel.namelist())
    expected = {str(p.relative_to(ROOT)) for pattern in SHIPPED for p in (ROOT / "r1lib").rglob(pattern)
                if "__pycache__" not in p.parts}
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel: {missing}"
    for package in ("grading", "labs", "figures", "exercises"):
        assert f"r1lib/{package}/__init__.py" in names


def test_the_console_script_points_at_the_command(wheel):
    (entry,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    text = wheel.read(entry).decode()
    assert "r1-score = r1lib.grading.score:main" in text
