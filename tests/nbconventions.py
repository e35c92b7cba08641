"""The conventions every notebook in notebooks/ follows, in one place (used by the tests and by
whoever builds a notebook): the first code cell, the kernel, no stored outputs."""
from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# One solutions notebook per notebook: notebooks/solutions/NN_solutions.ipynb.
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_solutions.ipynb"))


def repository_url() -> str:
    """The repository address, kept once in pyproject.toml's [project.urls]."""
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # r1lib supports 3.9+: read the one line by hand there
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        return re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M).group(1)
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["urls"]["Repository"]


SETUP_CELL_TEMPLATE = '''\
# Set-up. On Colab: install r1lib from the repository (nothing else is upgraded there).
# In a plain checkout: r1lib sits {where}, next to notebooks/.
import pathlib
import sys

REPO_URL = "{url}"
try:
    import r1lib
except ImportError:
    if "google.colab" in sys.modules:
        import subprocess
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", f"r1lib @ git+{{REPO_URL}}"], check=True)
    else:
        sys.path.insert(0, str(pathlib.Path.cwd().resolve(){parents}))
    try:
        import r1lib
    except ImportError:  # neither Colab nor a checkout: say how to install it
        raise ImportError("r1lib is not installed. Install it with\\n"
                          f'  pip install "r1lib[notebooks,grading] @ git+{{REPO_URL}}"\\n'
                          "or open this notebook from a clone of the repository.") from None'''


def setup_cell(solutions: bool = False) -> str:
    """The first code cell of a notebook (``solutions=True``: of a notebooks/solutions/ notebook,
    which sits one folder deeper)."""
    if solutions:
        return SETUP_CELL_TEMPLATE.format(url=repository_url(), where="two folders up",
                                          parents=".parent.parent")
    return SETUP_CELL_TEMPLATE.format(url=repository_url(), where="one folder up", parents=".parent")
