"""Limits of a shared dashboard beyond the training queue: the cap on explanations, the
upload rate, the `zoo` commands in the audit log and cancelling the first-start training
of the default zoo. Real parts: the app run by AppTest, real (tiny) trainings."""

from __future__ import annotations

import getpass
import shutil
import threading
import time
from pathlib import Path

import pytest

from dashboard import access, audit, limits
from zoo import audit as zoo_audit
from zoo.cli import main
from zoo.store import Store

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
DATA_PAGE = ROOT / "dashboard" / "views" / "data.py"
TIMEOUT = 60
# A script run that follows a real training in a child process (on 2 shared cores).
TRAINING_RUN_S = 300


def _app(page: str | None = None, *, user=None, secrets=None, state=None):
    """The app run by AppTest on `page` (views/PAGE.py; default: the Zoo page)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if user is not None:
        at.user = user
    if secrets is not None:
        at.secrets = secrets
    for key, value in (state or {}).items():
        at.session_state[key] = value
    if page:
        at.switch_page(f"views/{page}.py")
    return at.run()


# --- explanations ---------------------------------------------------------------------------


@pytest.fixture
def full_slots():
    """Every explanation slot of the server held (as by other visitors), released after."""
    slots = limits.explanation_slots(limits.DEFAULT_MAX_EXPLANATIONS)
    held = [slots.try_acquire() for _ in range(slots.limit)]
    assert all(held) and slots.running == slots.limit
    yield slots
    while slots.running:
        slots.release()


def test_explanations_wait_for_a_slot_then_say_the_server_is_busy(
    monkeypatch, store_copy, full_slots
):
    monkeypatch.setenv("ZOO_HOME", str(store_copy))  # a store of its own: no cached result
    # ... nor a cached test split (other tests' explain_test_split in the shared store):
    # a test sample's row would be read from it, without a slot (explain.test_split_row).
    shutil.rmtree(store_copy / "mlp-cancer" / "1" / "explain", ignore_errors=True)
    monkeypatch.setattr(limits, "EXPLAIN_WAIT_S", 1.0)
    at = _app("explain")
    at.query_params["model"] = "mlp-cancer@1"
    at.run()
    start = time.monotonic()
    at.button(key="explain_go").click().run()
    assert not at.exception and time.monotonic() - start >= 1.0
    assert [e.value for e in at.error] == [
        "the server is busy: 2 explanations are running (limit 2); try again in a minute"
    ]
    assert not at.metric  # nothing explained

    # Viewers' pages do not wait for explanation slots.
    start = time.monotonic()
    model = _app("model")
    assert not model.exception and not model.error
    assert time.monotonic() - start < limits.EXPLAIN_WAIT_S + 20

    # A slot frees up while the visitor waits: the explanation runs, and says it waited.
    monkeypatch.setattr(limits, "EXPLAIN_WAIT_S", 30.0)
    threading.Timer(1.0, full_slots.release).start()
    at.run()
    assert not at.exception and not at.error
    assert [m.label for m in at.metric][0] == "method"
    assert any(c.value.startswith("Waited ") for c in at.caption)
    assert full_slots.running == 1  # its slot is given back; the other is still held

    # A cached explanation takes no slot: it shows at once while every slot is busy.
    assert full_slots.try_acquire()
    start = time.monotonic()
    at.run()
    assert not at.error and [m.label for m in at.metric][0] == "method"
    assert time.monotonic() - start < limits.EXPLAIN_WAIT_S


def test_explanation_slots_and_their_settings():
    slots = limits.ExplanationSlots(1)
    assert slots.try_acquire() and not slots.try_acquire()
    with pytest.raises(limits.ServerBusy, match=r"1 explanation is running \(limit 1\)"):
        with slots.hold():
            pass
    slots.release()
    assert slots.wait_free(0.01) and slots.running == 0
    got = limits.limits_from({limits.MAX_EXPLANATIONS_ENV: "3"}, {})
    assert got.max_explanations == 3 and got.upload_rate == limits.Rate(10, 600.0)
    for env in ({limits.MAX_EXPLANATIONS_ENV: "0"}, {limits.UPLOAD_RATE_ENV: "ten"}):
        with pytest.raises(access.AccessError):
            limits.limits_from(env, {})


# --- uploads --------------------------------------------------------------------------------


def _csv(seed: int) -> bytes:
    rows = [f"{i},{(i * seed) % 7},{i % 2}" for i in range(40)]
    return ("a,b,label\n" + "\n".join(rows) + "\n").encode()


def _data_page(user=None, secrets=None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(f"import runpy\nrunpy.run_path({str(DATA_PAGE)!r})")
    at.default_timeout = TIMEOUT
    if user is not None:
        at.user, at.secrets = user, secrets
    return at.run()


def _upload(at, seed: int):
    at.file_uploader(key="data_upload").upload(f"t{seed}.csv", _csv(seed), "text/csv")
    return at.run()


def test_uploads_over_the_rate_are_refused_per_visitor(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "store"))
    monkeypatch.setenv(limits.UPLOAD_RATE_ENV, "2/600")
    auth = {
        "redirect_uri": "http://zoo.example.org:8501/oauth2callback",
        "cookie_secret": "a-long-random-secret-for-the-tests",
        "client_id": "keras-zoo",
        "client_secret": "client-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    secrets = {"auth": auth, "keras_zoo": {"trainers": ["*"]}}
    ann = {"is_logged_in": True, "email": f"ann-{time.time_ns()}@lab.org"}
    at = _data_page(ann, secrets)
    for seed in (1, 2):
        at = _upload(at, seed)
        assert not at.exception and not at.error and at.dataframe  # previewed
    at.run()  # a rerun with the same file counts nothing
    assert not at.error
    # The third upload within the window, even from another tab (session), is refused.
    other_tab = _upload(_data_page(ann, secrets), 3)
    assert not other_tab.exception and not other_tab.dataframe
    assert [e.value for e in other_tab.error] == [
        "upload limit reached: at most 2 uploads per 10 min per visitor; try again in 10 min"
    ]
    # Another visitor is not affected.
    bob = {"is_logged_in": True, "email": f"bob-{time.time_ns()}@lab.org"}
    at = _upload(_data_page(bob, secrets), 4)
    assert not at.exception and not at.error and at.dataframe


def test_rate_limiter_window():
    limiter = limits.RateLimiter(limits.parse_rate("2/60"))
    assert [limiter.take("ann", now=t) for t in (0.0, 10.0)] == [0.0, 0.0]
    assert limiter.take("ann", now=20.0) == pytest.approx(40.0)  # until the first one leaves
    assert limiter.take("bob", now=20.0) == 0.0
    assert limiter.take("ann", now=60.5) == 0.0
    assert limits.RateLimiter(limits.parse_rate("off")).take("ann") == 0.0
    with pytest.raises(ValueError, match="N/SECONDS"):
        limits.parse_rate("10")


def test_dashboard_flags_for_the_limits(tmp_path, monkeypatch, capsys):
    from unittest import mock

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    argv = ["--store", str(tmp_path / "s"), "dashboard", "--no-train"]
    with mock.patch("os.execve") as execve:
        assert main([*argv, "--max-explanations", "3", "--upload-rate", "5/60"]) == 0
    env = execve.call_args.args[2]
    assert env[limits.MAX_EXPLANATIONS_ENV] == "3" and env[limits.UPLOAD_RATE_ENV] == "5/60"
    with mock.patch("os.execve") as execve:
        assert main([*argv, "--upload-rate", "lots"]) == 2
    err = capsys.readouterr().err.strip()
    assert not execve.called and len(err.splitlines()) == 1 and "N/SECONDS" in err


# --- the zoo commands in the audit log ------------------------------------------------------


def test_zoo_commands_are_audited_and_shown_to_trainers(tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    assert main(["--store", str(store), "train", "mlp-cancer", "--epochs", "1"]) == 0
    [line] = audit.read(store)
    assert line["who"] == getpass.getuser() and line["via"] == "cli"
    assert (line["action"], line["target"], line["outcome"]) == ("train", "mlp-cancer@1", "ok")
    assert line["options"] == {"epochs": 1} and line["time"].endswith("+00:00")
    assert audit.AUDIT_FILE not in Store(store).names()
    # A dashboard line in the same file; the Zoo page shows both to trainers.
    audit.record(store, "ann@lab.org", "train", "mlp-cancer@2", "cancelled")
    monkeypatch.setenv("ZOO_HOME", str(store))
    at = _app()
    assert not at.exception
    [log] = [e for e in at.expander if e.label.startswith("Audit log")]
    shown = log.dataframe[0].value
    assert list(shown["via"]) == ["dashboard", "cli"]
    assert list(shown["who"]) == ["ann@lab.org", getpass.getuser()]


def test_a_failed_command_is_audited_and_a_missing_store_is_not_created(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    with pytest.raises(RuntimeError), zoo_audit.recording(root, "train", "mlp-cancer"):
        raise RuntimeError("out of memory")
    [line] = zoo_audit.read(root)
    assert (line["target"], line["outcome"], line["via"]) == ("mlp-cancer", "failed", "cli")
    with pytest.raises(RuntimeError), zoo_audit.recording(tmp_path / "none", "import", "x"):
        raise RuntimeError("bad file")
    assert not (tmp_path / "none").exists()
    # A line torn by a crash is skipped, and the next one is written whole after it.
    with zoo_audit.audit_path(root).open("a") as f:
        f.write('{"who": "torn')
    zoo_audit.cli_record(root, "create", "mlp-wine")
    assert [line["target"] for line in zoo_audit.read(root)] == ["mlp-wine", "mlp-cancer"]


# --- cancelling the first-start training of the default zoo ---------------------------------


def _default_job(queue: limits.TrainingQueue):
    return next((j for j in queue.active() if j.info.get("kind") == "default-zoo"), None)


def test_the_first_start_training_can_be_cancelled_by_its_trainer(tmp_path, monkeypatch):
    from zoo.registry import default_order

    store = tmp_path / "store"
    monkeypatch.setenv("ZOO_HOME", str(store))
    queue = limits.training_queue(1)
    refused: list[bool] = []

    def cancel_after_the_first_epoch():
        assert limits.wait_for(lambda: _default_job(queue) is not None, timeout=30)
        job = _default_job(queue)
        assert limits.wait_for(lambda: job.epoch >= 1 or not job.active, timeout=240)
        refused.append(queue.cancel(job.id, "session-someone-else"))  # not theirs
        queue.cancel(job.id, "session-trainer")

    at = _app(state={limits.OWNER_KEY: "session-trainer"})
    assert at.button(key="train_default")
    helper = threading.Thread(target=cancel_after_the_first_epoch, daemon=True)
    helper.start()
    at.button(key="train_default").click().run(
        timeout=TRAINING_RUN_S
    )  # follows it until it ends, then reruns
    helper.join(5)
    assert not at.exception and refused == [False]
    first, *rest = default_order()
    [warning] = [w.value for w in at.warning]
    assert warning == (
        f"Training of the default zoo cancelled. Trained: none. Cancelled: {first} (stopped "
        f"at the end of its epoch; nothing stored). Not trained: {', '.join(rest)}."
    )
    assert Store(store).names() == [] and not (store / ".resume").exists()
    [line] = audit.read(store)
    assert (line["target"], line["outcome"]) == (first, "cancelled")
    assert _default_job(queue) is None and at.button(key="train_default")  # it can start again


def test_viewers_see_the_first_start_training_but_cannot_cancel_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "store"))
    secrets = {
        "auth": {
            "redirect_uri": "http://zoo.example.org:8501/oauth2callback",
            "cookie_secret": "a-long-random-secret-for-the-tests",
            "client_id": "keras-zoo",
            "client_secret": "client-secret",
            "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
        },
        "keras_zoo": {"trainers": ["ann@lab.org"]},
    }
    gate = threading.Event()
    queue = limits.training_queue(1)
    job = queue.submit(
        "ann@lab.org", "cnn-digits (1/6, quick settings)", lambda job: gate.wait(30),
        kind="default-zoo", names=["cnn-digits"],
    )  # fmt: skip
    try:
        assert limits.wait_for(lambda: job.state == limits.RUNNING)
        bob = {"is_logged_in": True, "email": "bob@lab.org"}
        at = _app(user=bob, secrets=secrets)
        assert not at.exception
        assert "The default zoo is being trained on this server" in " ".join(
            c.value for c in at.caption
        )
        keys = [b.key for b in at.button]
        assert "zoo_default_cancel" not in keys and "train_default" not in keys
        assert not queue.cancel(job.id, "bob@lab.org") and job.active
    finally:
        gate.set()
        job.finished.wait(5)
