"""Explaining a whole dataset: chunked, resumable, bounded in memory, in parallel workers.

:func:`explain_dataset` splits the inputs into chunks of ``chunk_size`` samples and writes
each chunk's attributions to its own file under the artifact's
``explain/jobs/<split>-<method>-<key>/`` as soon as it is done (atomically), so an
interrupted job (Ctrl-C, a killed process, a worker that failed) resumes where it stopped:
a rerun with the same settings only computes the chunks that are missing. When every
chunk is there they are copied into one memory-mapped ``values.npy`` and the chunk files
are removed; a later call only maps that file. Memory holds the inputs once and one
chunk of attributions per worker, never the whole ``(n, *input, outputs)`` array.

``workers=N`` runs the chunks in ``N`` processes (``spawn``; each loads the version from
its store and builds its own explainer, ~5 s) with TensorFlow's per-process thread
pools sized to share the cores; progress (samples done, rate, ETA) comes from the chunk
files as they appear.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import DataError, ZooError
from zoo.store import atomic_write_bytes

from .estimators import get_explainer, nsamples_for, resolve_method
from .explainers import ExplanationInfo, additivity_error, explain_prepared, make_explanation
from .targets import (
    BACKGROUND_SEED,
    DEFAULT_BACKGROUND,
    Target,
    check_inputs,
    resolve_outputs,
    resolve_target,
    to_model_space,
)

if TYPE_CHECKING:  # pragma: no cover
    import shap

JOB_FORMAT = 2  # 2: layerwise explains path segments
SPLITS = ("train", "validation", "test")
HEARTBEAT_S = 15.0  # with workers: a progress line at least this often, even without news


@dataclasses.dataclass(frozen=True)
class JobProgress:
    """Where a dataset explanation stands: samples done of total, time and ETA.

    Example:
        >>> p = JobProgress(done=2560, total=10000, reused=0, elapsed_s=41.0, eta_s=119.2)
        >>> str(p)
        'explained 2,560/10,000 samples (26 %), 62 samples/s, 41 s elapsed, ETA 2 min'
    """

    done: int
    total: int
    reused: int  # samples whose chunks an earlier, interrupted run had already written
    elapsed_s: float
    eta_s: float | None

    def __str__(self) -> str:
        pct = 100 * self.done / max(self.total, 1)
        computed = self.done - self.reused
        rate = f", {computed / self.elapsed_s:.0f} samples/s" if computed and self.elapsed_s else ""
        kept = f" ({self.reused:,} from an earlier run)" if self.reused else ""
        eta = "" if self.eta_s is None else f", ETA {_duration(self.eta_s)}"
        return (
            f"explained {self.done:,}/{self.total:,} samples{kept} ({pct:.0f} %){rate}, "
            f"{self.elapsed_s:.0f} s elapsed{eta}"
        )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def explain_dataset(
    trained: Any,
    x: Any = None,
    *,
    split: str = "test",
    method: str = "auto",
    background: int | None = None,
    nsamples: int | None = None,
    seed: int = 0,
    output: int | str | Sequence[int | str] | None = None,
    chunk_size: int = 256,
    workers: int = 1,
    progress: Callable[[JobProgress], None] | None = None,
) -> shap.Explanation:
    """Explain a whole dataset of a stored model, resumably, in bounded memory.

    Args:
        trained: a ``TrainedModel`` from ``zoo.load`` (the job lives under its artifact).
        x: the inputs (an array, or the path of a ``.npy`` file, memory-mapped); ``None``
            explains the model's own ``split``.
        split: ``"test"``, ``"validation"`` or ``"train"`` when ``x`` is None.
        method, background, nsamples, seed, output: as in :func:`explain.explain`
            (``background`` a count: every worker draws the same training samples).
        chunk_size: samples per chunk file (the unit of resumption and of work).
        workers: processes computing chunks in parallel (1: this process).
        progress: called with a :class:`JobProgress` after each chunk.

    Returns a ``shap.Explanation`` whose ``values`` and ``data`` are memory-mapped
    ``.npy`` files in the job folder (``info(e).cache_file``); ``info(e).additivity``
    covers every sample.

    Example:
        >>> import explain
        >>> m = zoo.load("mlp-cancer")
        >>> e = explain.explain_dataset(m, split="train", chunk_size=128)
        >>> e.values.shape, explain.info(e).additivity["p95"] < 0.01
        ((397, 30, 1), True)
        >>> explain.info(explain.explain_dataset(m, split="train", chunk_size=128)).cached
        True
    """
    t = resolve_target(trained)
    if t.trained is None or t.path is None or t.ref is None:
        raise ZooError(
            "explain_dataset needs a stored model from zoo.load(name) (the job's chunks are "
            "written under its artifact folder); for a plain keras.Model use "
            "explain.explain(model, x, background=...) in batches"
        )
    for label, val in (("chunk_size", chunk_size), ("workers", workers)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise DataError(f"{label}={val!r}; expected an integer >= 1")
    if background is not None and (
        isinstance(background, bool) or not isinstance(background, (int, np.integer))
    ):
        raise DataError(
            "background must be a count of training samples here (every worker draws the "
            "same ones); use explain.explain() to pass an array"
        )
    xs, source = _inputs(t, x, split)
    resolved = resolve_method(t, method)
    outputs = resolve_outputs(t, output)
    settings = {
        "format": JOB_FORMAT,
        "ref": t.ref,
        "source": source,
        "method": resolved,
        "background": DEFAULT_BACKGROUND if background is None else int(background),
        "background_seed": BACKGROUND_SEED,
        "nsamples": nsamples_for(resolved, nsamples),
        "seed": int(seed),
        "outputs": list(outputs),
        "chunk_size": int(chunk_size),
    }
    folder = _job_folder(t.path, settings, xs)
    done_file = folder / "result.json"
    if done_file.exists():
        try:
            return _finished(t, folder, cached=True)
        except Exception:  # a damaged result is recomputed from scratch, never fatal
            shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    inputs = folder / "inputs.npy"
    if not inputs.exists():
        _save_npy(inputs, xs)
    n = len(xs)
    chunks = [(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]
    missing = [c for c in range(len(chunks)) if not _chunk_file(folder, c).exists()]
    reused = sum(chunks[c][1] - chunks[c][0] for c in range(len(chunks)) if c not in missing)
    # what get_explainer is called with in every process (settings hold resolved values)
    job = {"settings": settings, "chunks": chunks, "background": background, "nsamples": nsamples}
    start = time.perf_counter()

    last = [-1, start]  # samples done and time at the last call of `progress`

    def report() -> None:
        if progress is None:
            return
        done = sum(b - a for c, (a, b) in enumerate(chunks) if _chunk_file(folder, c).exists())
        now = time.perf_counter()
        if done == last[0] and now - last[1] < HEARTBEAT_S:  # polled often, told on change
            return
        last[:] = [done, now]
        elapsed = now - start
        rate = (done - reused) / elapsed if elapsed > 0 and done > reused else 0.0
        eta = (n - done) / rate if rate > 0 else None
        progress(JobProgress(done, n, reused, elapsed, eta))

    if workers == 1 or len(missing) <= 1:
        for c in missing:
            _explain_chunk(t, folder, job, c)
            report()
    else:
        _run_workers(t, folder, job, missing, min(workers, len(missing)), report)
    _assemble(folder, chunks, xs.shape, len(outputs))
    return _finished(t, folder, cached=False)


def _inputs(t: Target, x: Any, split: str) -> tuple[np.ndarray, str]:
    # The inputs in model space, and a name for them in the job folder's name.
    if x is None:
        if split not in SPLITS:
            raise DataError(f"split={split!r}; expected one of {', '.join(SPLITS)}")
        assert t.trained is not None
        data = t.trained.dataset()
        raw = getattr(data, f"x_{'val' if split == 'validation' else split}")
        return to_model_space(t, check_inputs(t, raw, f"the {split} split")), split
    if isinstance(x, (str, Path)):
        path = Path(x)
        if path.suffix != ".npy" or not path.is_file():
            raise DataError(
                f"{path} is not a .npy file; expected an array saved with numpy.save "
                "(or pass the array itself)"
            )
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    return to_model_space(t, check_inputs(t, x, "x")), "input"


def _job_folder(artifact: Path, settings: dict[str, Any], xs: np.ndarray) -> Path:
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode())
    step = max(1, (64 << 20) // max(xs[:1].nbytes, 1))  # hashed in ~64 MB slices
    for i in range(0, len(xs), step):
        digest.update(np.ascontiguousarray(xs[i : i + step]).tobytes())
    name = f"{settings['source']}-{settings['method']}-{digest.hexdigest()[:16]}"
    return artifact / "explain" / "jobs" / name


def _chunk_file(folder: Path, c: int) -> Path:
    return folder / f"chunk-{c:05d}.npz"


def _save_npy(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, np.float32), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def _explain_chunk(t: Target, folder: Path, job: dict[str, Any], c: int) -> None:
    """Compute chunk ``c`` and write it atomically (the unit a rerun resumes from)."""
    s = job["settings"]
    a, b = job["chunks"][c]
    xs = np.load(folder / "inputs.npy", mmap_mode="r")
    outputs = tuple(s["outputs"])
    explainer, bg_key = get_explainer(t, s["method"], job["background"], job["nsamples"], outputs)
    e = explain_prepared(
        t,
        np.ascontiguousarray(xs[a:b]),
        background=job["background"],
        method=s["method"],
        nsamples=job["nsamples"],
        batch_size=None,
        seed=s["seed"],
        output=outputs,
        y=None,
        progress=None,
        check_range=False,
        prepared=(explainer, bg_key),
    )
    meta: ExplanationInfo = e.zoo_info
    values = np.asarray(e.values, np.float32)
    spread = getattr(explainer, "spread", None)
    arrays = {
        "values": values,
        "base_values": np.asarray(e.base_values, np.float64),
        "predictions": np.asarray(meta.predictions, np.float64),
        # per-sample sums: the whole job's additivity without rereading every value
        "sums": values.reshape(len(values), -1, len(outputs)).sum(axis=1, dtype=np.float64),
        "spread": np.asarray([] if spread is None else spread, np.float64),
        "seconds": np.asarray(meta.seconds),
        "info": np.asarray(meta.to_json()),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(_chunk_file(folder, c), buf.getvalue())


def _worker(store_root: str, ref: str, folder: str, job: dict[str, Any], ids: list[int]) -> None:
    # One process: load the version once, build its explainer once, compute its chunks.
    import zoo

    t = resolve_target(zoo.load(ref, store=store_root))
    for c in ids:
        if not _chunk_file(Path(folder), c).exists():
            _explain_chunk(t, Path(folder), job, c)


def _worker_init(threads: int) -> None:
    # Each process gets its share of the cores: TensorFlow reads these before it starts.
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _run_workers(
    t: Target,
    folder: Path,
    job: dict[str, Any],
    missing: list[int],
    workers: int,
    report: Callable[[], None],
) -> None:
    assert t.path is not None and t.ref is not None
    store_root = str(t.path.parent.parent)  # <store>/<name>/<version>
    threads = max(1, (os.cpu_count() or 1) // workers)
    groups = [missing[w::workers] for w in range(workers)]
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_worker_init, initargs=(threads,)
    ) as pool:
        futures = [pool.submit(_worker, store_root, t.ref, str(folder), job, ids) for ids in groups]
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            report()
            for f in finished:
                err = f.exception()
                if err is not None:
                    for other in pending:
                        other.cancel()
                    total = len(job["chunks"])
                    kept = sum(_chunk_file(folder, c).exists() for c in range(total))
                    raise ZooError(
                        f"a worker failed explaining {t.ref} ({type(err).__name__}: {err}); "
                        f"{kept} of {total} chunks are kept in {folder}; "
                        "fix the cause and rerun with the same settings to resume"
                    ) from err


def _assemble(folder: Path, chunks: list[tuple[int, int]], shape: tuple[int, ...], k: int) -> None:
    """Chunk files -> one memory-mapped values.npy + small arrays + result.json."""
    n = shape[0]
    tmp = folder / "values.npy.tmp"
    values = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(*shape, k))
    base = np.empty((n, k), np.float64)
    preds = np.empty((n, k), np.float64)
    sums = np.empty((n, k), np.float64)
    seconds, spread, meta_json = 0.0, None, None
    for c, (a, b) in enumerate(chunks):
        with np.load(_chunk_file(folder, c), allow_pickle=False) as z:
            values[a:b] = z["values"].reshape(b - a, *shape[1:], k)
            base[a:b], preds[a:b], sums[a:b] = z["base_values"], z["predictions"], z["sums"]
            seconds += float(z["seconds"])
            if z["spread"].size:
                spread = z["spread"]
            meta_json = meta_json or str(z["info"])
    values.flush()
    del values
    os.replace(tmp, folder / "values.npy")
    buf = io.BytesIO()
    np.savez(buf, base_values=base, predictions=preds)
    atomic_write_bytes(folder / "outputs.npz", buf.getvalue())
    add = additivity_error(sums[:, None, :], base, preds, spread)
    assert meta_json is not None
    meta = json.loads(meta_json)
    meta.update(seconds=seconds, ms_per_sample=1000 * seconds / n, additivity=add, scope="dataset")
    atomic_write_bytes(folder / "result.json", json.dumps(meta).encode())
    for c in range(len(chunks)):
        _chunk_file(folder, c).unlink(missing_ok=True)


def _finished(t: Target, folder: Path, *, cached: bool) -> shap.Explanation:
    raw = json.loads((folder / "result.json").read_text())
    for name in ("output_names", "output_indices", "class_names", "feature_names"):
        if raw.get(name) is not None:
            raw[name] = tuple(raw[name])
    with np.load(folder / "outputs.npz", allow_pickle=False) as z:
        base, preds = z["base_values"], z["predictions"]
    predicted = None
    if t.task == "classification" and len(raw["output_indices"]) == t.n_outputs:
        predicted = preds.argmax(axis=1) if t.n_outputs > 1 else (preds[:, 0] > 0.5).astype(int)
    meta = ExplanationInfo(**raw, predictions=preds, predicted=predicted)
    meta.cached, meta.cache_file = cached, str(folder)
    values = np.load(folder / "values.npy", mmap_mode="r")
    data = np.load(folder / "inputs.npy", mmap_mode="r")
    return make_explanation(values, base, data, meta)
