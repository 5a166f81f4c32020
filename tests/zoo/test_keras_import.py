"""The first Keras import is safe from several threads at once (`zoo._tf.keras`).

The dashboard loads models from page threads while its explainer warm-up thread loads
another; each first `zoo.load` imports TensorFlow. Without a lock, TensorFlow's cyclic
imports in two threads gave a half-initialized module or Python's `_DeadlockError` in 2
of 3 fresh processes here. A fresh process is the only place a first import happens.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RACE = textwrap.dedent(
    """
    import threading
    from zoo import _tf

    barrier = threading.Barrier(4)
    errors = []

    def first_use():
        barrier.wait()  # all four enter the first import together
        try:
            _tf.keras().layers.Dense(1)
        except Exception as err:
            errors.append(repr(err)[:300])

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("errors:", errors)
    """
)


def test_four_threads_import_keras_at_once_in_a_fresh_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", RACE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "errors: []" in out.stdout, out.stdout
