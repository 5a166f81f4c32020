"""Whole-dataset explanation jobs: chunked, resumable, memory-mapped, parallel workers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import explain
from zoo.errors import DataError, ZooError


class Interrupted(Exception):
    pass


def test_a_dataset_job_matches_explain_and_is_cached(load_model):
    m = load_model("mlp-cancer")
    x = m.dataset().x_train
    seen = []
    e = explain.explain_dataset(m, split="train", chunk_size=32, progress=seen.append)
    meta = explain.info(e)
    folder = Path(str(meta.cache_file))
    assert e.values.shape[:2] == x.shape and isinstance(e.values, np.memmap)
    assert meta.additivity["p95"] <= 0.01 and meta.scope == "dataset"
    # the same numbers as one in-memory call, in the same order
    direct = explain.explain(m, x[40:50])
    np.testing.assert_allclose(np.asarray(e.values[40:50]), direct.values, atol=1e-6)
    # float32 outputs: a batch of 32 and one of 10 may round the last bit differently
    np.testing.assert_allclose(
        meta.predictions[40:50], explain.info(direct).predictions, rtol=1e-6, atol=1e-7
    )
    # progress reached the end with a rate; chunk files were folded into values.npy
    assert seen[-1].done == seen[-1].total == len(x) and "samples/s" in str(seen[-1])
    assert not list(folder.glob("chunk-*")) and (folder / "values.npy").exists()
    again = explain.explain_dataset(m, split="train", chunk_size=32)
    assert explain.info(again).cached
    np.testing.assert_array_equal(np.asarray(again.values), np.asarray(e.values))
    shutil.rmtree(folder)


def test_an_interrupted_job_resumes_from_its_chunks(load_model):
    m = load_model("mlp-cancer")

    def stop_after_two(p: explain.JobProgress) -> None:
        if p.done >= 40:
            raise Interrupted

    with pytest.raises(Interrupted):
        explain.explain_dataset(m, split="validation", chunk_size=20, progress=stop_after_two)
    seen: list[explain.JobProgress] = []
    e = explain.explain_dataset(m, split="validation", chunk_size=20, progress=seen.append)
    assert seen[0].reused == 40 and "from an earlier run" in str(seen[0])
    assert seen[-1].done == len(m.dataset().x_val)
    direct = explain.explain(m, m.dataset().x_val)
    np.testing.assert_allclose(np.asarray(e.values), direct.values, atol=1e-6)
    shutil.rmtree(str(explain.info(e).cache_file))


def test_two_workers_give_the_same_values(load_model, tmp_path):
    m = load_model("mlp-cancer")
    x = np.asarray(m.dataset().x_test[:60])
    path = tmp_path / "mine.npy"
    np.save(path, x)
    e = explain.explain_dataset(m, path, chunk_size=20, workers=2)
    direct = explain.explain(m, x)
    np.testing.assert_allclose(np.asarray(e.values), direct.values, atol=1e-6)
    assert explain.info(e).additivity["p95"] <= 0.01
    shutil.rmtree(str(explain.info(e).cache_file))


def test_bad_job_settings_say_what_to_fix(load_model, tmp_path):
    m = load_model("mlp-cancer")
    with pytest.raises(DataError, match="workers=0; expected an integer >= 1"):
        explain.explain_dataset(m, workers=0)
    with pytest.raises(DataError, match="split='tests'; expected one of"):
        explain.explain_dataset(m, split="tests")
    with pytest.raises(DataError, match="is not a .npy file"):
        explain.explain_dataset(m, tmp_path / "missing.csv")
    with pytest.raises(DataError, match="background must be a count"):
        explain.explain_dataset(m, background=np.zeros((3, 30)))
    with pytest.raises(ZooError, match="needs a stored model"):
        explain.explain_dataset(m.model, split="test")


def test_zoo_explain_all_prints_progress_and_resumes(tiny_store, capsys):
    from zoo.cli import main

    argv = ["--store", str(tiny_store), "explain", "lstm-co2", "--all", "--chunk", "16"]
    assert main([*argv, "--split", "validation"]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0].startswith("explained 16/") and "ETA" in lines[0]
    assert "additivity: normalized p50" in printed and "values: " in printed
    values = Path(printed.split("values: ")[1].split(" (")[0])
    assert np.load(values, mmap_mode="r").shape[1:] == (52, 1, 1)
    assert main([*argv, "--split", "validation"]) == 0
    assert "cached" in capsys.readouterr().out  # the second run only maps the file
    assert main([*argv, "--split", "validation", "--workers", "0"]) == 2
    assert "workers=0; expected an integer >= 1" in capsys.readouterr().err
    shutil.rmtree(values.parent)
