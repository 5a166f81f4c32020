"""Opening the Explain or GAN page warms the model's explainer off the click path.

The warm-up runs in a background thread (`dashboard.data.warm_explainer`); once it is
done, the explainer the Explain click needs is already in explain's in-process cache, so
the click builds nothing. No timing is asserted here (see the README for the figures).
"""

from __future__ import annotations

from concurrent.futures import wait

import pytest

# (page, model, the button that explains)
CASES = [
    ("explain", "gru-digits@1", "explain_go"),
    ("gan", "gan-digits@1", "gan_explain"),
]


def _explainers_of(ref: str) -> set[tuple]:
    from explain import explainers

    return {key for key in list(explainers._EXPLAINERS) if key[0] == f"ref:{ref}"}


@pytest.mark.parametrize(("page", "ref", "button"), CASES)
def test_opening_the_page_warms_the_explainer_the_click_uses(
    open_page, store_copy, metric, page, ref, button
):
    import explain
    from dashboard import data

    # Start from a cold explainer cache, with no earlier warm-up still running.
    wait(list(data._warmups().futures.values()))
    explain.clear_cache()
    assert not _explainers_of(ref)

    at = open_page(page, store=store_copy, model=ref)
    assert not at.exception
    root = data.store_root()
    assert (root, ref) in data._warmups().futures  # the page started it
    future = data.warm_explainer(root, ref)  # the same warm-up, not a second one
    assert future is data._warmups().futures[(root, ref)]
    assert future.result(timeout=300) is True
    warmed = _explainers_of(ref)
    assert warmed  # built, traced and called before any click

    at.button(key=button).click().run()
    assert not at.exception
    assert metric(at, "method")
    assert _explainers_of(ref) == warmed  # the click found the warmed explainer


def test_a_failed_warm_up_is_logged_not_raised(monkeypatch, caplog, tiny_store):
    from dashboard import data

    def broken(*args, **kwargs):
        raise RuntimeError("no explainer today")

    monkeypatch.setattr(data, "_explain", broken)
    monkeypatch.setenv("ZOO_HOME", str(tiny_store))
    root = data.store_root()
    data._warmups().futures.pop((root, "lstm-digits@1"), None)
    with caplog.at_level("WARNING", logger="dashboard"):
        assert data.warm_explainer(root, "lstm-digits@1").result(timeout=60) is False
    data._warmups().futures.pop((root, "lstm-digits@1"), None)
    assert "warming the explainer of lstm-digits@1 failed" in caplog.text
