"""The Sweeps page (AppTest) and the sweep's HTML report, on a store holding a real
2-trial sweep of mlp-cancer."""

from __future__ import annotations

from pathlib import Path

import pytest

import zoo

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, zoo.SweepResult]:
    root = tmp_path_factory.mktemp("swept")
    result = zoo.sweep(
        "mlp-cancer",
        grid={"dropout": [0, 0.3]},
        epochs=2,
        max_train_samples=120,
        early_stopping=0,
        store=root,
    )
    assert result.counts() == {"ok": 2}
    return root, result


def _open(monkeypatch: pytest.MonkeyPatch, root: Path, **query: str):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ZOO_HOME", str(root))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/sweeps.py")
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_the_sweep_page_ranks_the_trials_and_links_the_best(monkeypatch, swept):
    root, result = swept
    at = _open(monkeypatch, root, sweep=result.id)
    assert not at.exception
    assert at.title[0].value == "Sweeps"
    assert at.selectbox(key="sweep_picker").value == result.id
    (table,) = [d.value for d in at.dataframe]
    assert list(table["version"]) == [t.ref for t in result.ranked()]
    assert list(table["best val loss"]) == sorted(table["best val loss"])
    assert set(table["dropout"]) == {"0", "0.3"} and "gap (val - train)" in table.columns
    assert any(result.best.ref in s.value for s in at.success)
    links = {(link.value, link.proto.query_string) for link in at.get("page_link")}
    ref = result.best.ref.replace("@", "%40")
    assert ("Model", f"model={ref}") in links
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")


def test_a_store_without_sweeps_says_how_to_start_one(monkeypatch, tmp_path):
    at = _open(monkeypatch, tmp_path)
    assert not at.exception
    assert "zoo sweep mlp-cancer --grid" in at.info[0].value


def test_the_sweep_report_is_one_self_contained_file(swept, tmp_path, capsys):
    from zoo.cli import main

    root, result = swept
    out = tmp_path / "sweep.html"
    assert main(["report", "--sweep", result.id, "--out", str(out), "--store", str(root)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    html = out.read_text()
    assert "default-src 'none'" in html and "<script" not in html and "://" not in html
    assert html.count('src="data:image/png;base64,') == 1
    assert all(t.ref in html for t in result.trials) and 'class="best"' in html
