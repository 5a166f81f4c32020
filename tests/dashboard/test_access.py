"""Sharing the dashboard: the start check (no port opened), roles, the Train page's
refusal, the training queue and the audit log."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from unittest import mock

import pytest

from dashboard import access, audit, limits
from zoo.cli import main
from zoo.store import Store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
AUTH = {
    "redirect_uri": "http://zoo.example.org:8501/oauth2callback",
    "cookie_secret": "a-long-random-secret-for-the-tests",
    "client_id": "keras-zoo",
    "client_secret": "client-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture
def no_secrets(monkeypatch, tmp_path):
    """No secrets file where Streamlit looks: an empty home and working folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert not (APP.parent / ".streamlit" / "secrets.toml").exists(), "a real secrets file"
    return tmp_path


def _serve(args, store):
    """`zoo dashboard ARGS` in-process, the server (os.execve) replaced by a mock."""
    with mock.patch("os.execve") as execve:
        code = main(["--store", str(store), "dashboard", "--no-train", *args])
    return code, execve


def test_off_loopback_without_sign_in_refuses_to_start(no_secrets, capsys):
    for host in ("0.0.0.0", "192.168.1.20", "::", "zoo.example.org"):
        code, execve = _serve(["--host", host], no_secrets / "store")
        err = capsys.readouterr().err.strip()
        assert code == 2 and not execve.called, host
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"zoo: error: the dashboard would listen on {host}")
        for fix in ("[auth]", "secrets.toml", "--read-only", "--no-auth"):
            assert fix in err


def test_loopback_defaults_are_unchanged(no_secrets, capsys):
    for host in ("127.0.0.1", "localhost", "::1"):
        code, execve = _serve(["--host", host], no_secrets / "store")
        out = capsys.readouterr().out
        assert code == 0 and execve.called and "warning" not in out
        env = execve.call_args.args[2]
        assert not {access.NO_AUTH_ENV, access.READ_ONLY_ENV} & set(env)


def test_no_auth_serves_openly_with_a_warning(no_secrets, capsys):
    code, execve = _serve(["--host", "0.0.0.0", "--no-auth"], no_secrets / "store")
    out = capsys.readouterr().out
    assert code == 0 and execve.called
    warning = [line for line in out.splitlines() if "warning" in line]
    assert len(warning) == 1 and "--no-auth" in warning[0] and "anyone" in warning[0]
    assert execve.call_args.args[2][access.NO_AUTH_ENV] == "1"


def test_read_only_or_sign_in_may_leave_loopback(no_secrets, capsys):
    code, execve = _serve(["--host", "0.0.0.0", "--read-only"], no_secrets / "store")
    assert code == 0 and execve.call_args.args[2][access.READ_ONLY_ENV] == "1"

    secrets = no_secrets / "secrets.toml"
    lines = "\n".join(f'{k} = "{v}"' for k, v in AUTH.items())
    secrets.write_text(f"[auth]\n{lines}\n[keras_zoo]\ntrainers = ['ann@lab.org']\n")
    args = ["--host", "0.0.0.0", "--secrets", str(secrets), "--max-trainings", "2"]
    code, execve = _serve(args, no_secrets / "store")
    assert code == 0, capsys.readouterr().err
    cmd, env = execve.call_args.args[1], execve.call_args.args[2]
    assert cmd[cmd.index("--secrets.files") + 1] == str(secrets)
    assert env[access.MAX_TRAININGS_ENV] == "2"

    # An [auth] section that cannot work is refused at start, in one line.
    secrets.write_text(f'[auth]\nredirect_uri = "{AUTH["redirect_uri"]}"\ncookie_secret = "x"\n')
    code, execve = _serve(["--host", "0.0.0.0", "--secrets", str(secrets)], no_secrets / "store")
    err = capsys.readouterr().err.strip()
    assert code == 2 and not execve.called
    assert err == (
        "zoo: error: sign-in is configured but cannot work: [auth] names no provider: add "
        "client_id, client_secret and server_metadata_url"
    )


def test_role_for_allow_lists():
    config = access.Settings(trainers=("ann@lab.org", "@ops.org"), trainer_groups=("ml-team",))
    assert access.role_for("ANN@lab.org", [], config) == access.TRAINER
    assert access.role_for("cy@ops.org", [], config) == access.TRAINER
    assert access.role_for("bob@lab.org", ["ml-team"], config) == access.TRAINER
    assert access.role_for("bob@lab.org", ["other"], config) == access.VIEWER
    assert access.role_for(None, [], config) == access.VIEWER
    assert access.role_for("x@y.org", [], access.Settings(trainers=("*",))) == access.TRAINER
    assert access.role_for("ann@lab.org", [], access.Settings(trainers=())) == access.VIEWER
    # Read-only wins over every list; an unverified address earns nothing.
    read_only = access.Settings(read_only=True, trainers=("*",))
    assert access.role_for("ann@lab.org", ["ml-team"], read_only) == access.VIEWER
    user = {"is_logged_in": True, "email": "ann@lab.org", "email_verified": False}
    assert access.visitor(user, {"auth": AUTH}, config).role == access.VIEWER
    # Trainers from the configuration's [keras_zoo] section and from --trainers.
    settings = access.settings(
        {access.TRAINERS_ENV: "Bob@lab.org"},
        {"keras_zoo": {"trainers": ["ann@lab.org"], "groups_claim": "roles"}},
    )
    assert settings.trainers == ("ann@lab.org", "bob@lab.org") and settings.groups_claim == "roles"
    with pytest.raises(access.AccessError, match="at least 1"):
        access.settings({access.MAX_TRAININGS_ENV: "0"}, {})


def _app(page: str | None = None, *, user=None, secrets=None):
    """The app run by AppTest on `page` (views/PAGE.py; default: the Zoo page), on $ZOO_HOME."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    if user is not None:
        at.user = user
    if secrets is not None:
        at.secrets = secrets
    if page:
        at.switch_page(f"views/{page}.py")
    return at.run()


def test_read_only_refuses_training(monkeypatch, store_copy):
    monkeypatch.setenv("ZOO_HOME", str(store_copy))
    monkeypatch.setenv(access.READ_ONLY_ENV, "1")
    audit.record(store_copy, "ann@lab.org", "train", "mlp-cancer@1")
    at = _app("train")  # a viewer opening /train directly
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Training is off: this dashboard is served read-only (--read-only)."
    ]
    assert not at.button and not at.text_input  # no form, nothing to start
    at = _app()  # the Zoo page: no audit log, no training button for viewers
    assert not at.exception and not at.expander


def test_signed_in_roles(monkeypatch, tiny_store):
    monkeypatch.setenv("ZOO_HOME", str(tiny_store))
    secrets = {"auth": AUTH, "keras_zoo": {"trainers": ["ann@lab.org"]}}
    # Without a session: the sign-in page, nothing else.
    at = _app(user={"is_logged_in": False}, secrets=secrets)
    assert [b.label for b in at.button] == ["Sign in"] and not at.dataframe
    # A viewer: every viewer page, the Train page refuses.
    bob = {"is_logged_in": True, "email": "bob@lab.org"}
    at = _app("train", user=bob, secrets=secrets)
    assert not at.exception and not at.text_input
    assert at.error[0].value.startswith("Training is for trainers: you are signed in as bob")
    assert "Signed in as **bob@lab.org** (viewer)" in [c.value for c in at.sidebar.caption]
    # A trainer: the form.
    ann = {"is_logged_in": True, "email": "ann@lab.org"}
    at = _app("train", user=ann, secrets=secrets)
    assert not at.exception and not at.error and at.button(key="train_submit")


def test_training_waits_its_turn_and_is_audited(monkeypatch, store_copy):
    monkeypatch.setenv("ZOO_HOME", str(store_copy))
    at = _app("train")
    at.selectbox(key="train_entry").set_value("mlp-cancer").run()
    at.number_input(key="train_mlp-cancer_epochs").set_value(1)
    # Another visitor's training holds the server's one slot for 1 s: this one queues.
    gate = threading.Event()
    other = limits.training_queue(1).submit("bob@lab.org", "cnn-digits", lambda job: gate.wait(30))
    assert limits.wait_for(lambda: other.state == limits.RUNNING)
    threading.Timer(1.0, gate.set).start()
    # Follows a real training in a child process: more than a page's 60 s on busy cores.
    at.button(key="train_submit").click().run(timeout=300)
    assert not at.exception and not at.error and other.state == limits.DONE
    [line] = audit.read(store_copy)
    assert line["queued_s"] >= 0.8  # it started only once the other one was done
    assert line["who"] == "local user (no sign-in)" and line["action"] == "train"
    assert line["target"] == "mlp-cancer@2" and line["outcome"] == "ok"
    assert line["options"]["epochs"] == 1 and line["time"].endswith("+00:00")
    # The log lives in the store without becoming an entry; trainers see it on the Zoo page.
    assert (store_copy / audit.AUDIT_FILE).is_file()
    assert audit.AUDIT_FILE not in Store(store_copy).names()
    at = _app()
    assert not at.exception
    [log] = [e for e in at.expander if e.label.startswith("Audit log")]
    assert list(log.dataframe[0].value["target"]) == ["mlp-cancer@2"]


def test_queue_runs_one_training_at_a_time():
    queue = limits.TrainingQueue(1)
    gate, started = threading.Event(), []
    first = queue.submit("ann", "a", lambda job: (started.append("a"), gate.wait(10)))
    second = queue.submit("bob", "b", lambda job: started.append("b"))
    third = queue.submit("cy", "c", lambda job: started.append("c"))
    assert limits.wait_for(lambda: first.state == limits.RUNNING)
    assert (queue.position(second), queue.position(third)) == (1, 2)
    assert "position 2" in limits.queue_text(third, queue.position(third))
    # Only its owner cancels a job; a queued job leaves the queue at once.
    assert not queue.cancel(second.id, "ann") and queue.cancel(second.id, "bob")
    assert second.finished.wait(5) and second.state == limits.CANCELLED
    assert queue.position(third) == 1 and started == ["a"]
    gate.set()
    assert third.finished.wait(5) and third.state == limits.DONE
    assert started == ["a", "c"] and queue.active() == []


def test_cancel_stops_a_running_training_at_its_next_epoch():
    queue = limits.TrainingQueue(1)
    epochs = []

    def work(job):
        for epoch in range(1, 100):
            epochs.append(epoch)
            if epoch == 2:  # cancelled during its second epoch
                assert queue.cancel(job.id, "ann")
            job.progress(epoch, 99, {"loss": 1.0 / epoch})  # the end of an epoch
        return "stored"

    job = queue.submit("ann", "a", work)
    assert job.finished.wait(5)
    assert job.state == limits.CANCELLED and job.result is None and epochs == [1, 2]


def test_train_page_shows_the_queue_to_trainers(monkeypatch, tiny_store):
    monkeypatch.setenv("ZOO_HOME", str(tiny_store))
    gate = threading.Event()
    job = limits.training_queue(1).submit("ann@lab.org", "cnn-digits", lambda job: gate.wait(30))
    try:
        assert limits.wait_for(lambda: job.state == limits.RUNNING)
        at = _app("train")
        captions = [c.value for c in at.caption]
        assert (
            "Trainings on this server (1 at a time): cnn-digits (ann@lab.org, running)" in captions
        )
    finally:
        gate.set()
        job.finished.wait(5)


def test_train_page_follows_its_training_until_cancelled(monkeypatch, tiny_store):
    """A rerun re-attaches to the session's training; its owner's cancel ends it."""
    monkeypatch.setenv("ZOO_HOME", str(tiny_store))
    queue = limits.training_queue(1)

    def work(job):  # a training that runs until it is cancelled
        for epoch in range(1, 3000):
            time.sleep(0.01)
            job.progress(epoch, 3000, {"loss": 1.0 / epoch})

    job = queue.submit("session-test", "mlp-cancer", work)
    assert not queue.cancel(job.id, "session-other")  # not theirs
    at = _app("train")
    at.session_state["train_owner"] = "session-test"
    at.session_state["train_job"] = job.id
    threading.Timer(1.5, queue.cancel, args=(job.id, "session-test")).start()
    at.run()  # watches the running training (no form submitted) until it ends
    assert not at.exception and job.state == limits.CANCELLED
    assert "Training of mlp-cancer cancelled: nothing was stored." in [w.value for w in at.warning]
    assert "train_job" not in at.session_state
