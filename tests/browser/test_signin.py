"""Sign-in in a real browser: a local OpenID Connect provider, the dashboard configured
against it, Chromium signing in as a viewer and as a trainer.

The provider is `oidc-provider-mock` (a maintained test provider from the package index)
on 127.0.0.1, with two predefined users; the dashboard is the Streamlit command line
`zoo dashboard --secrets FILE` runs, with an `[auth]` section pointing at the provider and
`[keras_zoo] trainers` naming one of them. Needs Authlib (Streamlit's sign-in) and
oidc-provider-mock (both dev dependencies); fails, with the reason, when either is missing.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import access, harness
from dashboard.cli import streamlit_command

pytestmark = pytest.mark.browser

OUTPUT = Path(__file__).resolve().parents[2] / "tests" / "output" / "browser"
TRAINER, VIEWER = "ann@lab.org", "bob@lab.org"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The OIDC provider's URL; signing in offers the two users as one-click buttons."""
    import oidc_provider_mock as mock  # a dev dependency, like Authlib: no skip

    problem = access.authlib_problem()
    if problem:
        pytest.fail(problem)
    users = [
        mock.User(sub=email, claims={"email": email, "email_verified": True})
        for email in (TRAINER, VIEWER)
    ]
    with mock.run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def server(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Server]:
    """The dashboard on an empty store, signing visitors in at `provider`."""
    folder = tmp_path_factory.mktemp("signin")
    port = harness.free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-string-only-for-this-test"\n'
        'client_id = "keras-zoo"\n'
        'client_secret = "not-checked-by-the-mock"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        "[keras_zoo]\n"
        f'trainers = ["{TRAINER}"]\n'
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / "signin-server.log"
    env = dict(os.environ, ZOO_HOME=str(folder / "store"), ZOO_WARM_ON_START="0")
    cmd = streamlit_command(harness.HOST, port, headless=True, secrets=[secrets])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    with harness.Server(f"http://{harness.HOST}:{port}", proc, log, time.perf_counter()) as srv:
        srv.wait_healthy()
        yield srv


def _sign_in(browser, url: str, email: str, role: str):
    context = browser.new_context(viewport=harness.VIEWPORT)
    page = context.new_page()
    page.goto(url + "/")
    page.get_by_role("button", name="Sign in", exact=True).click(timeout=WAIT_MS)
    # The provider's page: one button per predefined user; then back to the dashboard.
    page.get_by_role("button", name=email, exact=True).click(timeout=WAIT_MS)
    page.get_by_text(f"Signed in as {email} ({role})", exact=True).wait_for(timeout=WAIT_MS)
    return context, page


def _train_link(page, url: str):
    return page.locator(f'[data-testid="stSidebarNav"] a[href="{url}/train"]')


def test_a_request_without_a_session_gets_the_sign_in_page(server, browser):
    context = browser.new_context(viewport=harness.VIEWPORT)
    try:
        page = context.new_page()
        page.goto(server.url + "/train")
        page.get_by_text("Sign in to see the zoo.").wait_for(timeout=WAIT_MS)
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=WAIT_MS)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert page.get_by_role("button", name="Train").count() == 0
    finally:
        context.close()


def test_viewer_cannot_reach_train(server, browser):
    context, page = _sign_in(browser, server.url, VIEWER, "viewer")
    try:
        page.locator('[data-testid="stSidebarNav"] a').first.wait_for(timeout=WAIT_MS)
        assert _train_link(page, server.url).count() == 0  # not listed
        page.goto(server.url + "/train")  # and the page itself refuses
        page.get_by_text("Training is for trainers: you are signed in as").wait_for(timeout=WAIT_MS)
        assert page.locator('[data-testid="stForm"]').count() == 0
        page.screenshot(path=str(OUTPUT / "signin-viewer-train.png"))
    finally:
        context.close()


def test_trainer_reaches_train(server, browser):
    context, page = _sign_in(browser, server.url, TRAINER, "trainer")
    try:
        _train_link(page, server.url).click(timeout=WAIT_MS)
        # The page's own controls (its entry picker comes first, then the form).
        page.get_by_text("Zoo entry").wait_for(timeout=WAIT_MS)
        assert page.get_by_text("Training is for trainers").count() == 0
        page.screenshot(path=str(OUTPUT / "signin-trainer-train.png"))
    finally:
        context.close()
