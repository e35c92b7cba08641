"""The tiny transformer's committed checkpoints: float16 ``.npz`` weights, JSON training logs, and
a manifest of sha256 hashes that :func:`load` checks before it trusts a file.

Every stage of the R1 recipe is one checkpoint (see :data:`STAGES`). ``python -m
r1lib.labs.lm.build`` (``make models``) rebuilds them all from the seed; the notebooks load them
in milliseconds instead of training for minutes.

The ``.npz`` files are written with fixed zip timestamps and names in a fixed order, so the same
weights always give the same bytes (and the same hash): rebuilding on the same machine leaves
``git status`` clean. The weights are stored in float16 (half the size; a base model's
next-token probabilities move by about 1e-3 from the rounding) and come back as float32. Each
stage trains from the *stored* (rounded) weights of the stage before it, so retraining from a
checkpoint reproduces the recorded numbers.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ...validation import check_option
from .model import Config, Transformer

__all__ = ["STAGES", "LOGS", "DIRECTORY", "MANIFEST", "ChecksumError", "save", "load", "load_log", "save_log",
           "write_manifest", "read_manifest", "sha256", "stage_path", "log_path"]

# The stages, in the order the recipe makes them.
STAGES = ("base", "r1-zero", "student-base", "student-sft", "student-kd", "student-rl", "student-opd")
# The JSON logs: one per stage, the rejection-sampled outputs, and the evaluation of every stage.
LOGS = STAGES + ("rejection", "evaluation")
DIRECTORY = Path(__file__).resolve().parent / "checkpoints"
MANIFEST = "manifest.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no build time in the bytes
_CONFIG_KEY = "__config__"


class ChecksumError(ValueError):
    """A checkpoint file's sha256 is not the one the manifest records."""


def _directory(directory: Optional[Union[str, Path]]) -> Path:
    return DIRECTORY if directory is None else Path(directory)


def stage_path(stage: str, directory: Optional[Union[str, Path]] = None) -> Path:
    """Where a stage's weights live: ``<directory>/<stage>.npz``."""
    return _directory(directory) / f"{check_option(stage, 'stage', STAGES)}.npz"


def log_path(name: str, directory: Optional[Union[str, Path]] = None) -> Path:
    """Where a log lives: ``<directory>/<name>.json``, ``name`` one of :data:`LOGS`."""
    return _directory(directory) / f"{check_option(name, 'log', LOGS)}.json"


def sha256(path: Union[str, Path]) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` (a zip of ``.npy`` files) with fixed timestamps and sorted names: the same
    arrays always give the same bytes. ``np.load`` reads it like any ``np.savez_compressed`` file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name], order="C"), allow_pickle=False)
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def save(model: Transformer, stage: str, directory: Optional[Union[str, Path]] = None) -> Path:
    """Write ``model``'s weights (float16) and config to ``<directory>/<stage>.npz``; returns the path.

    The manifest is not touched: call :func:`write_manifest` once every file is written.
    """
    path = stage_path(stage, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(value, dtype=np.float16) for name, value in model.state_dict().items()}
    if _CONFIG_KEY in arrays:  # pragma: no cover - a parameter name the model never uses
        raise ValueError(f"parameter name {_CONFIG_KEY!r} is reserved")
    arrays[_CONFIG_KEY] = np.array(json.dumps(model.config.as_dict(), sort_keys=True))
    path.write_bytes(_npz_bytes(arrays))
    return path


def save_log(log: dict, name: str, directory: Optional[Union[str, Path]] = None) -> Path:
    """Write a log (see :data:`LOGS`) as compact JSON with sorted keys."""
    path = log_path(name, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(log, sort_keys=True, separators=(",", ":"), allow_nan=False)
    path.write_text(text + "\n")
    return path


def write_manifest(meta: Optional[dict] = None, directory: Optional[Union[str, Path]] = None) -> Path:
    """Hash every ``.npz`` and ``.json`` file of the directory into ``manifest.json``.

    ``meta`` (seed, versions, timings ...) is stored beside the hashes under ``"meta"``.
    """
    d = _directory(directory)
    files = {}
    for p in sorted(d.iterdir()):
        if p.name != MANIFEST and p.suffix in (".npz", ".json"):
            files[p.name] = {"sha256": sha256(p), "bytes": p.stat().st_size}
    manifest = {"files": files, "meta": meta or {}}
    path = d / MANIFEST
    path.write_text(json.dumps(manifest, sort_keys=True, indent=1) + "\n")
    return path


def read_manifest(directory: Optional[Union[str, Path]] = None) -> dict:
    """The manifest as a dict (``{"files": {name: {"sha256", "bytes"}}, "meta": {...}}``)."""
    path = _directory(directory) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint manifest at {path}: run `make models` "
                                "(python -m r1lib.labs.lm.build) to build the checkpoints")
    return json.loads(path.read_text())


def _verified_bytes(path: Path, directory: Optional[Union[str, Path]]) -> bytes:
    """The file's bytes, after checking their sha256 against the manifest."""
    files = read_manifest(directory)["files"]
    if path.name not in files:
        raise ChecksumError(f"checkpoint file {path} is not in the manifest {path.parent / MANIFEST}: "
                            "rebuild with `make models`")
    if not path.exists():
        raise FileNotFoundError(f"checkpoint file {path} is missing: rebuild with `make models`")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    expected = files[path.name]["sha256"]
    if digest != expected:
        raise ChecksumError(f"checkpoint file {path} has sha256 {digest}, but the manifest records "
                            f"{expected}: the file is damaged or was changed; rebuild with `make models` "
                            "(or restore it from git)")
    return data


def load(stage: str, directory: Optional[Union[str, Path]] = None) -> Transformer:
    """The trained model of a stage of the recipe, weights as float32.

    Parameters
    ----------
    stage : str
        One of :data:`STAGES`: ``"base"`` (pretrained), ``"r1-zero"`` (GRPO from the base),
        ``"student-base"`` (the smaller model, pretrained), ``"student-sft"`` (SFT on the
        rejection-sampled outputs of r1-zero, R1's distillation), ``"student-kd"`` (logit
        distillation on the same samples), ``"student-rl"`` (GRPO on the student) and
        ``"student-opd"`` (on-policy distillation, reverse KL to r1-zero on the student's samples).
    directory : path, optional
        Where the checkpoints are (default: the ones shipped with r1lib).

    Raises
    ------
    ValueError
        An unknown stage (the message lists the stages).
    ChecksumError (a ValueError)
        The file's sha256 differs from the manifest's (the message names the file).
    """
    path = stage_path(stage, directory)
    data = _verified_bytes(path, directory)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    config = Config.from_dict(json.loads(str(arrays.pop(_CONFIG_KEY).item())))
    return Transformer.from_state_dict({name: a.astype(np.float32) for name, a in arrays.items()}, config)


def load_log(name: str, directory: Optional[Union[str, Path]] = None) -> dict:
    """A log recorded at build time (hash-checked like the weights): a stage's training log
    (``"base"``, ``"r1-zero"``, ...: settings, per-step numbers, wall time, load average; r1-zero's
    holds the snapshots of fixed prompts' completions through RL), ``"rejection"`` (the kept
    outputs and the counts) or ``"evaluation"`` (every stage on the same test problems)."""
    path = log_path(name, directory)
    return json.loads(_verified_bytes(path, directory).decode())
