"""Hostile and unlucky inputs: damage stays in its version, every failure is one line.

The corruption matrix damages each file of a real stored version in every way a disk,
an editor or an attacker can (truncate, flip a byte, the wrong JSON type with the
manifest re-signed, delete, leave out of the manifest, add a file) and checks that only
that version is affected. Then refs, staging folders of killed processes and OS errors.
Config values and TOML files are fuzzed in `test_config_fuzz.py`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zoo
from zoo import staging
from zoo.cli import main
from zoo.errors import ArtifactError, StorageError, UnknownModelError
from zoo.store import Store, parse_ref
from zoo.summary import zoo_table

NAME = "mlp-cancer"
FILES = ("card.md", "config.json", "history.csv", "history.json", "metrics.json", "model.keras")


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> Path:
    """A store with two identical good versions of mlp-cancer (trained once, copied)."""
    root = tmp_path_factory.mktemp("good")
    run = zoo.train(NAME, store=root, epochs=1, max_train_samples=100)
    shutil.copytree(run.path, root / NAME / "2")
    return root


@pytest.fixture
def store(good_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(good_store, copy)
    return copy


def _resign(folder: Path, *, drop: str | None = None) -> None:
    # What an attacker (or a buggy tool) does after editing a file: make the manifest
    # agree, so only the schema checks can tell.
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for rel in list(manifest["files"]):
        if rel == drop:
            del manifest["files"][rel]
            continue
        data = (folder / rel).read_bytes()
        manifest["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    path.write_text(json.dumps(manifest))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# The wrong JSON type for each JSON file, with checksums made to match.
WRONG_TYPE = {
    "config.json": lambda d: {**d, "epochs": "abc"},
    "metrics.json": lambda d: [],
    "history.json": lambda d: {"loss": "not a list"},
    "manifest.json": lambda d: {**d, "files": list(d["files"])},
}


def _damage(folder: Path, file: str, how: str) -> None:
    path = folder / file
    if how == "truncate":
        _truncate(path)
    elif how == "flip":
        _flip(path)
    elif how == "delete":
        path.unlink()
    elif how == "omit":  # left out of the manifest, then damaged: the case it hid
        _resign(folder, drop=file)
        _flip(path)
    elif how == "wrong-type":
        path.write_text(json.dumps(WRONG_TYPE[file](json.loads(path.read_text()))))
        if file != "manifest.json":
            _resign(folder)
    elif how == "truncate-resigned":
        _truncate(path)
        _resign(folder)


MATRIX = [
    (file, how)
    for file in (*FILES, "manifest.json")
    for how in ("truncate", "flip", "delete", "omit", "wrong-type", "truncate-resigned")
    if not (how == "omit" and file == "manifest.json")
    if not (how == "wrong-type" and file not in WRONG_TYPE)
    if not (how == "truncate-resigned" and (not file.endswith(".json") or file == "manifest.json"))
]


@pytest.mark.parametrize(("file", "how"), MATRIX, ids=[f"{f}-{h}" for f, h in MATRIX])
def test_one_damaged_file_corrupts_only_its_version(store, file, how, capsys):
    _damage(store / NAME / "2", file, how)
    infos = {r.ref: r for r in zoo.runs(NAME, store=store)}
    bad = infos[f"{NAME}@2"]
    assert bad.status == "corrupted", (file, how, bad)
    assert file in bad.reason and "\n" not in bad.reason
    assert infos[f"{NAME}@1"].status == "ok" and not infos[f"{NAME}@1"].warnings
    # The listing, the table and loading without a version go on with version 1.
    (row,) = [r for r in zoo_table(Store(store)) if r["name"] == NAME]
    assert row["best"] == f"{NAME}@1" and row["status"] == "corrupted"
    assert zoo.load(NAME, store=store).version == 1
    with pytest.raises(ArtifactError, match=f"{NAME}@2 is corrupted: .*{file}"):
        zoo.load(f"{NAME}@2", store=store)
    for argv in (["list"], ["runs"], ["runs", NAME, "--json"]):
        assert main(["--store", str(store), *argv]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_issue_cases_a_list_of_files_and_a_truncated_history(store, capsys):
    # mlp-cancer@2's manifest with `files` as a list broke every listing and load.
    _damage(store / NAME / "2", "manifest.json", "wrong-type")
    assert main(["--store", str(store), "runs", NAME]) == 0
    out = capsys.readouterr().out
    assert "corrupted" in out and "'files' is a list" in out
    # A truncated history.json (manifest made to agree) is refused by evaluate in one line.
    _damage(store / NAME / "1", "history.json", "truncate-resigned")
    assert main(["--store", str(store), "evaluate", f"{NAME}@1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and "history.json is not valid JSON" in err
    assert err.count("\n") == 1


def test_a_model_file_keras_cannot_read_falls_back_to_the_version_before(store, caplog):
    # The checksums agree (a re-signed manifest) and the schema checks pass, so only
    # Keras finds out: the latest still loads as the one before, with a warning.
    folder = store / NAME / "2"
    (folder / "model.keras").write_bytes(b"PK\x03\x04garbage")
    _resign(folder)
    assert Store(store).verify(NAME, 2).status == "ok"
    with caplog.at_level("WARNING", logger="zoo.trained"):
        m = zoo.load(NAME, store=store)
    assert m.ref == f"{NAME}@1"
    assert "could not be loaded by Keras (not a .keras (zip) archive)" in caplog.text
    assert f"loaded {NAME}@1 instead" in caplog.text
    # The version asked for by number: its error, no fallback.
    with pytest.raises(zoo.ArtifactError, match="could not be loaded by Keras"):
        zoo.load(f"{NAME}@2", store=store)
    # With no older version left to read, the latest's error.
    (store / NAME / "1" / "model.keras").write_bytes(b"PK\x03\x04garbage")
    _resign(store / NAME / "1")
    with pytest.raises(zoo.ArtifactError, match=f"{NAME}/2/model.keras could not be loaded"):
        zoo.load(NAME, store=store)


def test_an_extra_file_is_a_warning_and_never_read(store, capsys):
    (store / NAME / "2" / "evil.py").write_text("import os; os.system('echo owned')\n")
    (store / NAME / "2" / "explain").mkdir()
    (store / NAME / "2" / "explain" / "cache.npz").write_bytes(b"derived")  # not reported
    info = Store(store).verify(NAME, 2)
    assert info.status == "ok" and len(info.warnings) == 1 and "evil.py" in info.warnings[0]
    assert zoo.load(NAME, store=store).version == 2
    assert main(["--store", str(store), "runs", NAME]) == 0
    out = capsys.readouterr().out
    assert f"{NAME}@2  ok (!)" in out and "evil.py is not in the manifest" in out


def test_a_manifest_for_another_entry_or_outside_paths_is_corrupted(store):
    path = store / NAME / "2" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "name": "cnn-digits"}))
    assert "names the entry 'cnn-digits'" in Store(store).verify(NAME, 2).reason
    files = {**manifest["files"], "../1/model.keras": manifest["files"]["model.keras"]}
    path.write_text(json.dumps({**manifest, "files": files}))
    assert "not a path inside the version folder" in Store(store).verify(NAME, 2).reason


def test_deeply_nested_json_is_damage_not_a_recursion_error(store):
    (store / NAME / "2" / "metrics.json").write_text("[" * 100_000)
    _resign(store / NAME / "2")
    assert "nested too deeply" in Store(store).verify(NAME, 2).reason


# --- refs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("cnn-digits@²", "ASCII digits"),
        ("cnn-digits@١", "ASCII digits"),
        ("cnn-digits@" + "1" * 5000, "characters long"),
        ("cnn-digits@" + "1" * 20, "20 digits"),
        ("cnn-digits@0", "positive integer"),
        ("cnn-digits@", "positive integer"),
        ("cnn-digits@-1", "positive integer"),
    ],
)
def test_refs_take_ascii_digits_only(ref, message):
    with pytest.raises(UnknownModelError, match=message) as err:
        parse_ref(ref)
    assert len(str(err.value)) < 300


def test_odd_version_folders_are_ignored_and_unicode_digits_load_nothing(store, capsys):
    for odd in ("²", "١", "01", "1.bak", "9" * 12):
        (store / NAME / odd).mkdir()
    (store / "²").mkdir()
    assert Store(store).versions(NAME) == [1, 2]
    assert NAME in Store(store).names() and "²" not in Store(store).names()
    with pytest.raises(UnknownModelError, match="ASCII digits"):
        zoo.load(f"{NAME}@١", store=store)  # used to load version 1 silently
    assert main(["--store", str(store), "list"]) == 0
    assert main(["--store", str(store), "evaluate", "cnn-digits@²"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and err.count("\n") == 1


# --- staging folders --------------------------------------------------------------------

HOLD = """
import sys, time
from zoo.store import Store
with Store(sys.argv[1]).staging("mlp-cancer") as folder:
    (folder / "config.json").write_text("{}")
    print(folder, flush=True)
    if sys.argv[2] == "kill":
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
"""


def _hold(root: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), mode], stdout=subprocess.PIPE, text=True
    )
    folder = Path(proc.stdout.readline().strip())
    return proc, folder


def test_staging_of_a_killed_process_goes_on_the_next_start_a_live_ones_stays(tmp_path):
    dead_proc, dead = _hold(tmp_path, "kill")
    assert dead_proc.wait(timeout=60) == -signal.SIGKILL and dead.is_dir()  # left behind
    live_proc, live = _hold(tmp_path, "live")
    try:
        other_host = tmp_path / NAME / f".tmp-1-0-{'f' * 8}-{'0' * 32}"
        other_host.mkdir()
        legacy_old = tmp_path / NAME / f".tmp-{'a' * 32}"
        legacy_new = tmp_path / NAME / f".tmp-{'b' * 32}"
        for folder in (legacy_old, legacy_new):
            folder.mkdir()
        week_ago = time.time() - 7 * 24 * 3600
        os.utime(legacy_old, (week_ago, week_ago))
        store = Store(tmp_path)
        with store.staging(NAME) as mine:
            assert not dead.exists() and not legacy_old.exists()
            assert live.is_dir() and other_host.is_dir() and legacy_new.is_dir()
            assert mine.is_dir()
        assert store.versions(NAME) == [] and store.runs() == []
    finally:
        live_proc.kill()
        live_proc.wait()
    # Its owner gone, the live one goes too on the next start.
    with Store(tmp_path).staging(NAME):
        assert not live.exists()


def test_a_recycled_process_id_does_not_keep_a_folder():
    pid = os.getpid()
    start = staging.start_ticks(pid)
    # Linux (CI, the supported platform) has /proc: the start time is known.
    assert start > 0 or not Path("/proc/self/stat").exists()
    if start:
        assert staging.alive(pid, start) and not staging.alive(pid, start + 1)


def test_an_unknown_start_time_falls_back_to_the_process_id(monkeypatch):
    # Where /proc is missing (start 0 in the folder name, or unreadable now), only the
    # process id decides: a live id keeps its folder, a gone one does not.
    pid = os.getpid()
    assert staging.alive(pid, 0)
    monkeypatch.setattr(staging, "start_ticks", lambda _pid: 0)
    assert staging.alive(pid, 12345)  # cannot tell it was recycled: keep
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not staging.alive(gone.pid, 0) and not staging.alive(0) and not staging.alive(-1)


# --- OS errors --------------------------------------------------------------------------


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_store_naming_a_file_is_one_line(tmp_path, capsys):
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    for argv in (["list"], ["runs"], ["train", NAME, "--epochs", "1"]):
        assert main(["--store", str(file), *argv]) == 2
        assert "is a file, not a folder" in _one_line_error(capsys)
    assert file.read_text() == "x"


def test_reading_a_store_under_a_file_or_an_empty_store_flag_is_one_line(tmp_path, capsys):
    # Both listed an empty store (exit 0): a path under a file, which can never be a
    # store, and `--store ""` (an unset shell variable), which meant the default store.
    (tmp_path / "file").write_text("x")
    assert main(["--store", str(tmp_path / "file" / "sub"), "list"]) == 2
    assert "cannot exist: " in _one_line_error(capsys)
    assert main(["--store", "", "list"]) == 2
    assert "--store is empty" in _one_line_error(capsys)


def test_store_under_a_file_fails_before_training_even_as_root(tmp_path, monkeypatch, capsys):
    # Unlike a chmod'ed folder this fails for root too (CI may run as root).
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "file" / "store"))
    monkeypatch.setattr("zoo.training.train", lambda *a, **k: pytest.fail("trained"))
    assert main(["train", NAME, "--epochs", "1"]) == 2
    err = _one_line_error(capsys)
    assert "cannot exist" in err and "is a file, not a folder" in err and str(tmp_path) in err


def test_read_only_store_is_one_line(tmp_path, monkeypatch, capsys):
    # chmod stops no root process (CI may run as root): the OS's refusal is simulated at
    # the one call that meets it, as disk-full is below.
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if "ro" in self.parts:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(["--store", str(tmp_path / "ro" / "s"), "train", NAME]) == 2
    err = _one_line_error(capsys)
    assert "Permission denied; permission denied" in err and str(tmp_path / "ro") in err


def test_disk_full_while_writing_keeps_nothing(tmp_path, monkeypatch, capsys):
    def full(self, name, folder, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "manifest.json"))

    monkeypatch.setattr(Store, "_commit", full)
    argv = ["--store", str(tmp_path), "train", NAME, "--epochs", "1", "--max-train-samples", "60"]
    assert main(argv) == 2
    err = _one_line_error(capsys)
    assert "No space left on device; the disk is full" in err and "nothing half-written" in err
    assert list((tmp_path / NAME).iterdir()) == []  # no version, no staging folder


EFBIG = """
import resource, sys
from zoo.store import Store
from zoo.errors import StorageError
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    with Store(sys.argv[1]).staging("mlp-cancer") as folder:
        (folder / "model.keras").write_bytes(b"x" * 100_000)
except StorageError as err:
    print(err)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ulimit -f semantics")
def test_file_size_limit_is_a_storage_error(tmp_path):
    # A real EFBIG: `ulimit -f` in a child process (Python ignores SIGXFSZ, so the write
    # fails with errno 27 instead of killing it).
    out = subprocess.run(
        [sys.executable, "-c", EFBIG, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert "File too large; the file is larger than this system allows" in out.stdout, out
    assert "nothing half-written was kept" in out.stdout
    assert [p for p in (tmp_path / NAME).iterdir()] == []


def test_os_errors_inside_staging_become_storage_errors(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(StorageError, match="read-only; point --store") as err:
        with store.staging(NAME) as folder:
            raise OSError(errno.EROFS, "Read-only file system", str(folder / "config.json"))
    assert "\n" not in str(err.value)
    assert store.versions(NAME) == [] and list((tmp_path / NAME).iterdir()) == []


def test_unreadable_config_path_names_the_file(tmp_path, capsys):
    cases = {
        "folder.toml": None,
        "latin1.toml": b'model = "mlp-cancer"\nactivation = "r\xe9lu"\n',
        "int.toml": b"model = 123\n",
        "list.toml": b'model = ["mlp-cancer"]\n',
        "table.toml": b'model = "mlp-cancer"\n[epochs]\nx = 1\n',
        "broken.toml": b'model = "mlp-cancer\n',
    }
    for file, content in cases.items():
        path = tmp_path / file
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        assert main(["--store", str(tmp_path / "s"), "train", "--config", str(path)]) == 2
        assert str(path) in _one_line_error(capsys), file


def test_describe_os_error_is_one_line_with_the_fix():
    text = zoo.errors.describe_os_error(OSError(errno.EFBIG, "File\ntoo large", "/s/m.keras"))
    assert text.startswith("/s/m.keras: File too large; ") and "ulimit -f" in text
    assert "\n" not in text
