"""`zoo train` picks each training's Keras backend: the user's, else the fastest measured.

Real trainings (tiny: one epoch on 64 digits) in fresh interpreters, as a user runs the
command; the version's manifest records the backend it was trained on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras  # noqa: F401  (this process keeps its backend: Keras is imported first)
import pytest

from zoo import backend
from zoo.cli import main
from zoo.store import Store

TINY = ["--epochs", "1", "--max-train-samples", "64", "--units", "4", "--early-stopping", "0"]
CODE = "import sys; from zoo.cli import main; sys.exit(main(sys.argv[1:]))"


def _trained_on(store: Path, name: str) -> list[str]:
    s = Store(store)
    return [
        json.loads((s.path(name, v) / "manifest.json").read_text())["backend"]
        for v in s.versions(name)
    ]


def _zoo(store: Path, *args: str, command: str = "train", **env: str) -> str:
    mine = ("KERAS_BACKEND", backend.SETTING, "JAX_COMPILATION_CACHE_DIR")
    clean = {k: v for k, v in os.environ.items() if k not in mine}
    out = subprocess.run(
        [sys.executable, "-c", CODE, "--store", str(store), command, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, **env},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout + out.stderr  # JAX warns on stderr


@pytest.mark.slow
def test_auto_trains_each_family_on_its_fastest_backend_and_quick_on_tensorflow(
    tmp_path: Path,
) -> None:
    # Nothing chosen by the user: auto.
    _zoo(tmp_path, "gru-digits", *TINY)
    _zoo(tmp_path, "gru-digits", "--quick", *TINY)
    _zoo(tmp_path, "cnn-digits", "--epochs", "1", "--max-train-samples", "64")
    assert _trained_on(tmp_path, "gru-digits") == [backend.FASTEST["rnn"], "tensorflow"]
    assert _trained_on(tmp_path, "cnn-digits") == [backend.FASTEST["cnn"]]


@pytest.mark.slow
def test_a_sweep_puts_every_trial_on_the_backend_zoo_train_would_choose(tmp_path: Path) -> None:
    # Nothing chosen: auto, as `zoo train` (a recurrent entry's trials on its fastest).
    argv = ["gru-digits", "--grid", "dropout=0,0.2", *TINY, "--parallel", "2"]
    out = _zoo(tmp_path, *argv, command="sweep")
    fastest = backend.FASTEST["rnn"]
    assert f"trials over dropout (0 | 0.2), 2 at a time, on {fastest}" in out
    assert _trained_on(tmp_path, "gru-digits") == [fastest, fastest]  # both workers
    # Named (the flag a --join worker gets from its chief): that one.
    other = "tensorflow" if fastest == "jax" else "jax"
    argv = ["gru-digits", "--grid", "dropout=0", *TINY, "--backend", other]
    assert f", on {other}" in _zoo(tmp_path, *argv, command="sweep")
    assert _trained_on(tmp_path, "gru-digits")[-1] == other


@pytest.mark.slow
def test_the_users_backend_wins(tmp_path: Path) -> None:
    other = "tensorflow" if backend.FASTEST["rnn"] == "jax" else "jax"
    _zoo(tmp_path, "gru-digits", *TINY, KERAS_BACKEND=other)
    _zoo(tmp_path, "gru-digits", *TINY, "--backend", other, KERAS_BACKEND=backend.FASTEST["rnn"])
    assert _trained_on(tmp_path, "gru-digits") == [other, other]


@pytest.mark.slow
def test_a_training_on_the_other_backend_runs_in_a_child(tmp_path: Path, capsys) -> None:
    here = keras.backend.backend()
    other = "tensorflow" if here == "jax" else "jax"
    code = main(["--store", str(tmp_path), "train", "gru-digits", "--backend", other, *TINY])
    assert code == 0
    assert f"gru-digits trains on {other}" in capsys.readouterr().out
    # The child's own lines: the training on that backend, stored.
    out = _zoo(tmp_path, "gru-digits", "--backend", other, *TINY, ZOO_LINE_PREFIX="[3/6] ")
    assert f"[3/6] training gru-digits on {other}" in out and "[3/6] stored gru-digits@2" in out
    assert _trained_on(tmp_path, "gru-digits") == [other, other]
    assert keras.backend.backend() == here and os.environ["KERAS_BACKEND"] == here


def test_a_bad_backend_setting_is_one_line(tmp_path: Path, capsys) -> None:
    os.environ[backend.SETTING] = "theano"
    try:
        assert main(["--store", str(tmp_path), "train", "gru-digits", *TINY]) == 2
    finally:
        del os.environ[backend.SETTING]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "backend 'theano' is not one of auto" in err
    assert Store(tmp_path).versions("gru-digits") == []


def test_jax_trainings_keep_compiled_programs_in_the_users_cache(tmp_path: Path) -> None:
    # The second training of the same architecture compiles nothing new: every program
    # it runs comes from the cache the first one wrote (a key that changed from run to
    # run would add entries). The cache is in the user's cache folder, not the store.
    # (A JAX_COMPILATION_CACHE_DIR of the user's, "" included, is left to JAX itself:
    # zoo._tf.jax_cache_dir's example.)
    cache = tmp_path / "xdg"
    env = {
        "XDG_CACHE_HOME": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # cache even quick compiles
    }
    # A program without its access-time file (a process killed between JAX's two
    # writes) made every later write of JAX's size-bounded cache fail: it is removed.
    folder = cache / "keras-zoo" / "jax"
    folder.mkdir(parents=True)
    (folder / "jit_train_step-0123abcd-cache").write_bytes(b"half-written")
    out = _zoo(tmp_path / "store", "gru-digits", "--backend", "jax", *TINY, **env)
    assert "Error writing persistent compilation cache" not in out
    first = set(os.listdir(folder))
    assert "jit_train_step-0123abcd-cache" not in first
    assert len([n for n in first if n.endswith("-cache")]) >= 2  # the train and test steps
    _zoo(tmp_path / "store", "gru-digits", "--backend", "jax", "--fresh", *TINY, **env)
    assert set(os.listdir(cache / "keras-zoo" / "jax")) == first
    assert not any((tmp_path / "store").rglob("*jax*"))
