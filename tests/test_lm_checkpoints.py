"""The tiny transformer's checkpoints (r1lib.labs.lm.checkpoints) and the ones shipped with r1lib.

Reproduction tests retrain the first steps of a stage from its recorded settings and compare
with the numbers recorded at build time. Tolerance: float32 BLAS libraries sum a matrix product
in different orders on different machines (blocking, SIMD width, threads), so one forward pass
differs in about the 7th significant digit; AdamW's update m/sqrt(v) is scale-free, so such
relative differences stay relative and a few steps later the losses still agree to ~1e-5. We
allow rtol 1e-4. Sampled tokens are compared exactly: a token changes only when a uniform draw
falls within ~1e-6 of a boundary of the cumulative distribution, which a few hundred draws
essentially never do.
"""

import numpy as np
import pytest

from r1lib.labs.lm import checkpoints as C
from r1lib.labs.lm import stages as S
from r1lib.labs.lm.model import Config, Transformer

SHIPPED = C.DIRECTORY
TINY = Config(context=32, d_model=16, n_layers=1, n_heads=2, d_mlp=32)


def tiny_model(seed=0):
    return Transformer.init(TINY, np.random.default_rng(seed))


def test_round_trip_is_float16_of_the_weights(tmp_path):
    model = tiny_model()
    C.save(model, "base", tmp_path)
    C.save_log({"loss": [1.0, 0.5]}, "base", tmp_path)
    C.write_manifest({"seed": 0}, tmp_path)
    back = C.load("base", tmp_path)
    assert back.config == model.config
    for name, value in model.params.items():
        assert back.params[name].dtype == np.float32
        np.testing.assert_array_equal(back.params[name], value.astype(np.float16).astype(np.float32))
    assert C.load_log("base", tmp_path) == {"loss": [1.0, 0.5]}
    assert C.read_manifest(tmp_path)["meta"] == {"seed": 0}


def test_same_weights_same_bytes(tmp_path):
    model = tiny_model()
    a = C.save(model, "base", tmp_path / "a")
    b = C.save(model, "base", tmp_path / "b")
    assert C.sha256(a) == C.sha256(b)
    # and np.load reads the file like any .npz
    with np.load(a) as npz:
        assert set(npz.files) == set(model.params) | {"__config__"}


def test_a_changed_file_is_refused_by_name(tmp_path):
    C.save(tiny_model(), "r1-zero", tmp_path)
    C.write_manifest(None, tmp_path)
    path = C.stage_path("r1-zero", tmp_path)
    data = bytearray(path.read_bytes())
    data[-30] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(C.ChecksumError, match="r1-zero.npz"):
        C.load("r1-zero", tmp_path)
    with pytest.raises(ValueError, match="sha256"):  # ChecksumError is a ValueError
        C.load("r1-zero", tmp_path)


def test_missing_pieces(tmp_path):
    with pytest.raises(FileNotFoundError, match="make models"):
        C.load("base", tmp_path)
    C.save(tiny_model(), "base", tmp_path)
    C.write_manifest(None, tmp_path)
    C.save(tiny_model(), "student-sft", tmp_path)  # written after the manifest: not in it
    with pytest.raises(C.ChecksumError, match="not in the manifest"):
        C.load("student-sft", tmp_path)


@pytest.mark.parametrize("stage", ["r1", "Base", None, 3])
def test_unknown_stage_lists_the_stages(stage):
    with pytest.raises(ValueError, match="'base', 'r1-zero', 'student-base', 'student-sft', 'student-kd'"):
        C.load(stage)


# ------------------------------------------------------------------ the shipped checkpoints

shipped = pytest.mark.skipif(not (SHIPPED / C.MANIFEST).exists(), reason="checkpoints not built yet")


@shipped
def test_every_stage_loads_and_the_files_are_small():
    manifest = C.read_manifest()
    total = sum(f["bytes"] for f in manifest["files"].values())
    assert total <= 8 * 2**20
    for stage in C.STAGES:
        model = C.load(stage)
        assert model.n_params > 10_000
        assert C.load_log(stage)["wall_seconds"] > 0
    assert C.load("base").n_params > C.load("student-base").n_params
    on_disk = {p.name for p in SHIPPED.iterdir() if p.suffix in (".npz", ".json") and p.name != C.MANIFEST}
    assert on_disk == set(manifest["files"])


@shipped
def test_pretraining_reproduces_the_recorded_losses():
    log = C.load_log("base")
    s = log["settings"]
    config = Config.from_dict(s.pop("config"))
    _, again = S.pretrain(config, stop_after=3, **s)
    np.testing.assert_allclose(again["loss"], log["loss"][:3], rtol=1e-4)


@shipped
def test_r1_zero_reproduces_the_recorded_rewards():
    log = C.load_log("r1-zero")
    _, again = S.r1_zero(C.load("base"), stop_after=1, **log["settings"])
    for key in ("reward", "accuracy", "format", "length", "working"):
        assert again[key] == log[key][:1], key
    np.testing.assert_allclose(again["loss"], log["loss"][:1], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(again["kl"], log["kl"][:1], rtol=1e-3, atol=1e-7)
    assert again["snapshots"][0] == log["snapshots"][0]


@shipped
def test_the_students_reproduce_their_recorded_losses():
    kept = C.load_log("rejection")
    student = C.load("student-base")
    for stage, train in (("student-sft", S.sft), ("student-kd", None)):
        log = C.load_log(stage)
        s = {k: v for k, v in log["settings"].items() if k != "n_samples"}
        if train is None:
            _, again = S.distill(S.copy_model(student), C.load("r1-zero"), kept, stop_after=2, **s)
        else:
            _, again = train(S.copy_model(student), kept, stop_after=2, **s)
        np.testing.assert_allclose(again["loss"], log["loss"][:2], rtol=1e-4)


@shipped
def test_the_done_criterion_holds_in_the_recorded_evaluation():
    from r1lib.error_bars import paired_difference
    from r1lib.metrics import pass_at_k
    ev = C.load_log("evaluation")
    n = ev["settings"]["n"]
    run = ev["evaluations"][0]
    assert (run["temperature"], run["top_p"]) == (1.0, 1.0)
    base = np.array(run["stages"]["base"]["correct_counts"]) / n
    rl = np.array(run["stages"]["r1-zero"]["correct_counts"]) / n
    diff = paired_difference(rl, base)
    assert diff.value > 3 * diff.se
    c = np.array(run["stages"]["base"]["correct_counts"])
    assert np.mean(pass_at_k(n, c, n)) > 1.5 * np.mean(c / n)  # pass@16 far above pass@1
    assert run["stages"]["base"]["pass@1"] == pytest.approx(np.mean(c / n))


def test_unknown_log_lists_the_logs():
    with pytest.raises(ValueError, match="'rejection', 'evaluation'"):
        C.load_log("training")
