"""`zoo delete`: one version or a custom entry, atomically, numbers never reused, audited.

A real mlp-cancer version (from the session's tiny store) is copied twice into a
template store; each test copies that into its own store (a version folder is
self-contained and checksummed, so the copy verifies), so the tests never share what
they delete. The trainings that check the next number are real (one epoch).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import zoo
from zoo import audit, entries
from zoo.cli import main
from zoo.store import Store

NAME = "mlp-cancer"
TINY = dict(epochs=1, early_stopping=0)


@pytest.fixture(scope="module")
def template(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with mlp-cancer@1 (the session's tiny store's, trained for real) and @2
    (a copy: the manifest names the entry, not the number, so it verifies)."""
    root = tmp_path_factory.mktemp("delete") / "store"
    shutil.copytree(tiny_store / NAME / "1", root / NAME / "1")
    shutil.copytree(tiny_store / NAME / "1", root / NAME / "2")
    return root


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(template, root)
    return root


def snapshot(root: Path) -> dict[str, int]:
    """Every path under the store (hidden ones too) with its size: what 'unchanged' means."""
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*"))}


def test_delete_falls_back_keeps_others_and_never_reuses_the_number(store):
    before = Store(store).verify(NAME, 1)
    done = zoo.delete(f"{NAME}@2", store=store)
    assert done.refs == (f"{NAME}@2",) and done.statuses == ("ok",)
    s = Store(store)
    assert s.versions(NAME) == [1] and not (store / NAME / "2").exists()
    # Nothing else touched: version 1 verifies with the same checksums; no trash left.
    after = s.verify(NAME, 1)
    assert after.status == "ok" and after.metrics == before.metrics
    assert sorted(p.name for p in (store / NAME).iterdir()) == [".deleted-2", "1"]
    assert zoo.load(NAME, store=store).ref == f"{NAME}@1"
    # The next training gets 3, not 2 again: a ref never names two models.
    assert zoo.train(NAME, store=store, **TINY).ref == f"{NAME}@3"
    assert s.versions(NAME) == [1, 3]
    # Deleting every version leaves the entry with none; load says so in one line.
    zoo.delete(f"{NAME}@3", store=store)
    zoo.delete(f"{NAME}@1", store=store)
    with pytest.raises(zoo.UnknownModelError, match="no trained version"):
        zoo.load(NAME, store=store)
    assert s.names() == [] and s.runs() == []


def test_cli_prints_what_it_deleted_and_audits_it(store, capsys):
    assert main(["--store", str(store), "delete", f"{NAME}@1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"deleted {NAME}@1 (ok): {store / NAME / '1'}"]
    line = audit.read(store)[0]
    assert (line["via"], line["action"], line["target"], line["outcome"]) == (
        "cli",
        "delete",
        f"{NAME}@1",
        "ok",
    )
    assert line["who"] == audit.os_user() and line["status"] == "ok"
    assert Store(store).versions(NAME) == [2]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([NAME], "names no version"),  # a bare name: the version must be explicit
        ([f"{NAME}@9"], "does not exist"),
        (["mlp-nope@1"], "mlp-nope"),
        ([f"{NAME}@x"], "positive integer"),
        ([NAME, "--entry"], "built-in entry"),
        ([NAME, "--entry", "--versions"], "built-in entry"),
        (["mlp-nope", "--entry"], "no custom entry"),
        ([f"{NAME}@1", "--versions"], "--versions goes with --entry"),
        ([f"{NAME}@1", "--entry"], "by its name alone"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(store, capsys, args, words):
    before = snapshot(store)
    assert main(["--store", str(store), "delete", *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("zoo: error: ") and words in err, err
    assert captured.out == "" and "Traceback" not in err
    assert snapshot(store) == before  # no version, tombstone or audit line written


def test_a_crash_mid_delete_leaves_the_whole_version_or_none(store):
    # Killed after the rename, during the removal: the trash folder is invisible (not a
    # version), loading is unaffected, and the next delete in the entry removes it.
    s = Store(store)
    trash = store / NAME / ".trash-2-0123456789abcdef"
    shutil.copytree(store / NAME / "2", trash)
    (trash / "model.keras").unlink()  # half removed
    assert s.versions(NAME) == [1, 2] and [r.status for r in s.runs(NAME)] == ["ok", "ok"]
    assert zoo.load(NAME, store=store).ref == f"{NAME}@2"
    zoo.delete(f"{NAME}@1", store=store)
    assert not trash.exists() and s.versions(NAME) == [2]
    # A failed or corrupted version is deleted the same way (it is what one cleans up).
    (store / NAME / "2" / "metrics.json").write_text("{}")
    assert s.verify(NAME, 2).status == "corrupted"
    assert zoo.delete(f"{NAME}@2", store=store).statuses == ("corrupted",)
    assert s.versions(NAME) == []


def test_an_ensemble_survives_deleting_its_members(store):
    # Ensembles copy their members' weights into their own model.keras: no dependency.
    e = zoo.ensemble("mlp-cancer-ens", [f"{NAME}@1", f"{NAME}@2"], store=store)
    try:
        x = e.dataset().x_test[:5]
        expected = e.predict(x)
        zoo.delete(f"{NAME}@1", store=store)
        zoo.delete(f"{NAME}@2", store=store)
        again = zoo.load(e.ref, store=store)
        assert again.predict(x) == pytest.approx(expected, abs=1e-6)
    finally:
        entries.forget("mlp-cancer-ens")


def test_delete_a_custom_entry_with_its_versions(tmp_path, capsys):
    from sklearn.datasets import load_wine

    csv = tmp_path / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(csv, index=False)
    root = tmp_path / "store"
    name = "mlp-winedel"
    try:
        zoo.add_entry(name, family="mlp", csv=csv, target="target", store=root)
        zoo.train(name, store=root, **TINY)
        entry_file = entries.entry_path(root, name)
        # An entry with versions is refused without --versions; nothing changes.
        before = snapshot(root)
        assert main(["--store", str(root), "delete", name, "--entry"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{name}@1" in err and "--versions" in err
        assert snapshot(root) == before

        assert main(["--store", str(root), "delete", name, "--entry", "--versions"]) == 0
        out = capsys.readouterr().out.strip().splitlines()
        assert out == [f"deleted {name}@1 (ok): {root / name / '1'}", f"deleted {entry_file}"]
        assert not entry_file.exists() and csv.exists()  # the user's own file stays
        assert name not in zoo.list_models(include_optional=True)
        with pytest.raises(zoo.UnknownModelError):
            zoo.get_spec(name)
        line = audit.read(root)[0]
        assert (line["action"], line["target"], line["versions"]) == (
            "delete",
            name,
            [f"{name}@1"],
        )
        # A new entry of that name starts after the deleted numbers.
        zoo.add_entry(name, family="mlp", csv=csv, target="target", store=root)
        assert zoo.train(name, store=root, **TINY).ref == f"{name}@2"
        # Without versions an entry goes without --versions (the API call).
        zoo.delete(f"{name}@2", store=root)
        done = zoo.delete_entry(name, store=root)
        assert done.refs == () and done.paths == (entry_file,) and not entry_file.exists()
    finally:
        entries.forget(name)
