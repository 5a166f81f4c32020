"""explain.report / explain.reporting: one self-contained, escaped, offline HTML report per
model family.

Reports are built once per family (module fixture) from the session's tiny trained store
and checked by parsing them with the stdlib HTML parser; one test opens them in headless
Chromium with every non-file request blocked.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from markupsafe import escape

from zoo.errors import DataError, ZooError

FAMILIES = ["cnn-digits", "gru-digits", "lstm-co2", "mlp-cancer", "gan-digits"]
CLASSIFIERS = {"cnn-digits", "gru-digits", "mlp-cancer"}
COMMON_SECTIONS = {
    "overview",
    "card",
    "dataset",
    "config",
    "metrics",
    "curves",
    "importance",
    "explanations",
    "provenance",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background"}
OUTPUT = Path(__file__).resolve().parents[1] / "output"


class Page(HTMLParser):
    """Everything the checks need from a report: ids, images, URLs, tags, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.imgs: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tags_seen: dict[str, int] = {}
        self.title = ""
        self.style = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        self.tags.append((tag, d))
        self.tags_seen[tag] = self.tags_seen.get(tag, 0) + 1
        if d.get("id"):
            self.ids.add(str(d["id"]))
        if tag == "img":
            self.imgs.append(str(d.get("src") or ""))
        for name, value in attrs:
            if name in URL_ATTRS:
                self.urls.append((tag, name, value or ""))
        self._in = tag if tag in ("title", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "style":
            self.style += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture(scope="module")
def report_html(trained: Callable[[str], Any]) -> Callable[[str], str]:
    """`report_html(name)`: the default report of the tiny store's model, built once."""
    from explain.reporting import build_report

    cache: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in cache:
            cache[name] = build_report(trained(name))
        return cache[name]

    return get


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name", FAMILIES)
def test_every_section_is_present(report_html: Callable[[str], str], name: str) -> None:
    page = parse(report_html(name))
    expected = COMMON_SECTIONS | ({"samples"} if name.startswith("gan") else set())
    expected |= {"groups"} if name in CLASSIFIERS else set()  # metrics per group
    assert expected <= page.ids, f"missing sections: {expected - page.ids}"
    if not name.startswith("gan"):
        assert "samples" not in page.ids
    # the table of contents links to every section, and only to sections
    anchors = [v for tag, attr, v in page.urls if tag == "a" and attr == "href"]
    assert {a[1:] for a in anchors} == expected


@pytest.mark.parametrize("name", FAMILIES)
def test_images_are_embedded_pngs(report_html: Callable[[str], str], name: str) -> None:
    page = parse(report_html(name))
    # curves, metrics/importance and at least one explained sample
    assert len(page.imgs) >= 4
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(PNG_MAGIC)
        assert len(png) > 1000


@pytest.mark.parametrize("name", FAMILIES)
def test_no_external_resource(report_html: Callable[[str], str], name: str) -> None:
    html = report_html(name)
    page = parse(html)
    for tag, attr, value in page.urls:
        if tag == "a" and attr == "href":
            assert value.startswith("#"), f"<a href={value!r}> leaves the page"
        else:
            assert value.startswith("data:"), f"<{tag} {attr}={value!r}> is fetched"
    assert "script" not in page.tags_seen, "the report needs no script"
    assert "link" not in page.tags_seen, "CSS is inline; no <link> of any kind"
    assert not any(t in page.tags_seen for t in ("iframe", "object", "embed", "base"))
    assert "url(" not in page.style and "@import" not in page.style
    csp = [d for t, d in page.tags if t == "meta" and d.get("http-equiv")]
    assert csp and "default-src 'none'" in str(csp[0].get("content"))


@pytest.mark.parametrize("name", FAMILIES)
def test_content_of_each_family(
    report_html: Callable[[str], str], trained: Callable[[str], Any], name: str
) -> None:
    html = report_html(name)
    page = parse(html)
    m = trained(name)
    tags = {d["data-tag"] for t, d in page.tags if t == "article" and d.get("data-tag")}
    assert m.ref in page.title
    assert "layerwise" in html  # the method used
    assert str(escape(m.diagnosis.get("message", ""))) in html
    assert "sanity check passed" in html and "additivity error, max" in html
    assert "shap" in html and "tensorflow" in html  # library versions
    if m.task == "classification":
        assert "per-class" in html and "confusion matrix" in html
        assert "least confident" in tags
        accuracy = m.metrics["accuracy"]
        assert ("correct" in tags) == (accuracy > 0)
        assert ("wrong" in tags) == (accuracy < 1)
    elif m.task == "regression":
        assert "naive baseline" in html and "ppm" in html
        assert tags == {"largest error", "typical"}
    else:
        assert "Fréchet distance" in html and "generated samples per epoch" in html
        assert tags == {"real", "generated"}
    assert sum(1 for t, d in page.tags if t == "article") == 6


@pytest.mark.parametrize("name", ["mlp-cancer", "cnn-digits"])
def test_groups_section_reads_the_default_grouping(
    report_html: Callable[[str], str], trained: Callable[[str], Any], name: str
) -> None:
    from zoo import fairness

    html = report_html(name)
    s = fairness.slices(trained(name))
    section = html[html.index('<section id="groups">') :]
    section = section[: section.index("</section>")]
    assert str(escape(s.reading)) in section
    assert section.count("<tr>") == 1 + len(s.groups) + (1 + len(s.gaps) if s.gaps else 0)
    for g in s.groups:
        assert f'<td>{escape(g.name)}</td><td class="num">{g.n}</td>' in section
        assert f"{g.accuracy:.3f}" in section


def _spy_figures(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the texts (titles, axis labels, y tick labels) of every figure embedded."""
    from explain.reporting import figures

    seen: list[list[str]] = []
    real = figures.png

    def spy(fig: Any, alt: str, caption: str = "") -> dict[str, str]:
        texts = []
        for ax in fig.axes:
            texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
            texts += [t.get_text() for t in ax.get_yticklabels()]
        seen.append(texts)
        return real(fig, alt, caption)

    monkeypatch.setattr(figures, "png", spy)
    return seen


def _explanations_of(
    trained: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> tuple[Any, Any, dict[str, Any], list[list[str]]]:
    """`name`'s model, its data, its report's explanations section (2 samples) and the
    texts of every figure that section drew (see `_spy_figures`)."""
    from explain.reporting import explanations

    figures = _spy_figures(monkeypatch)
    m = trained(name)
    d = m.dataset()
    return m, d, explanations.explanations_section(m, d, 2, "auto"), figures


def test_tabular_report_shows_raw_feature_values(
    trained: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from explain.reporting import sections

    m, d, section, figures = _explanations_of(trained, monkeypatch, "mlp-cancer")
    assert "raw measurements" in section["intro"]
    assert len(figures) == len(section["cards"]) == 2
    for card, texts in zip(section["cards"], figures, strict=True):
        i = int(dict(card["facts"])["test index"])
        raw = d.features_to_units(d.x_test[i])
        rows = [t for t in texts if " = " in t]
        assert len(rows) == 9  # max_display=10: 9 features + "N other features"
        for row in rows:
            name, value = row.rsplit(" = ", 1)
            assert value == f"{raw[d.feature_names.index(name)]:.4g}", row
    figures.clear()
    sections.importance_section(m, "auto")
    beeswarm = figures[1]
    assert sum(1 for t in beeswarm if t.endswith("]") and " … " in t) >= 5  # raw ranges


def test_forecaster_report_explains_in_ppm(
    trained: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    m, d, section, figures = _explanations_of(trained, monkeypatch, "lstm-co2")
    assert "in ppm" in section["intro"]
    for card, texts in zip(section["cards"], figures, strict=True):
        facts = dict(card["facts"])
        assert facts["additivity error"].endswith(" ppm")
        i = int(facts["test index"])
        change = float(d.to_units(m.predict(d.x_test[i : i + 1]))[0, 0])
        assert facts["forecast change"] == f"{change:+.3f} ppm"
        title = texts[0]
        assert title.startswith(f"test sample {i}: forecast = {change:.3g} ppm (base ")
        assert "SHAP (ppm)" in texts and "weekly change (ppm)" in texts
    rows = dict(section["fidelity"][0][1])
    assert rows["additivity error, max"].endswith(" ppm")


def test_user_text_is_escaped(trained: Callable[[str], Any]) -> None:
    from explain.reporting import build_report

    title = '<script>alert("x")</script> & <b>bold</b>'
    html = build_report(trained("mlp-cancer"), samples=2, title=title)
    page = parse(html)
    assert "<script>" not in html and "<b>bold" not in html
    assert "&lt;script&gt;" in html
    assert page.title == title  # shown as text, verbatim
    assert "script" not in page.tags_seen and "b" not in page.tags_seen


def test_markdown_is_escaped_before_formatting() -> None:
    from explain.reporting import markdown_to_html

    out = str(markdown_to_html("# Card <img src=x onerror=alert(1)>\n- `a<b>` item\n\ntext"))
    assert "<img" not in out and "&lt;img src=x" in out
    assert "<h3>" in out and "<li><code>a&lt;b&gt;</code> item</li>" in out
    assert "<p>text</p>" in out


def test_markdown_keeps_html_blocks_and_links_as_text() -> None:
    from markupsafe import Markup

    from explain.reporting import markdown_to_html

    card = "<script>alert(1)</script>\n\n[docs](https://example.org) ![x](https://e.org/x.png)"
    out = markdown_to_html(card + "\n\n###### deep")
    assert isinstance(out, Markup)  # safe to embed: the template does not escape it again
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<a " not in out and "<img" not in out and "[docs](https://example.org)" in out
    assert "<h6>deep</h6>" in out  # headings move down two levels, at most to h6


# --------------------------------------------------------------------------- selection


def test_choose_samples_takes_correct_wrong_and_least_confident_in_turn() -> None:
    from explain.reporting import choose_samples

    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.55, 0.45], [0.3, 0.7], [0.95, 0.05]])
    y = np.array([0, 0, 1, 1, 1])
    picked = choose_samples("classification", y, proba, 4)
    # correct: 0 (.9), 3 (.7); wrong, most confident first: 4 (.95), 1, 2; least: 2 (.55)
    assert picked == [(0, "correct"), (3, "correct"), (4, "wrong"), (2, "least confident")]
    # more requested than there are samples: each sample once
    assert len(choose_samples("classification", y, proba, 50)) == 5


def test_choose_samples_regression_takes_largest_and_typical_errors() -> None:
    from explain.reporting import choose_samples

    actual = np.zeros(7)
    forecast = np.array([0.1, -3.0, 0.2, 0.25, 2.0, -0.2, 0.3])
    picked = dict(choose_samples("regression", actual, forecast, 4))
    assert picked[1] == "largest error" and picked[4] == "largest error"
    assert sorted(picked.values()).count("typical") == 2
    assert picked.get(3) == "typical"  # |error| 0.25 is the median


# --------------------------------------------------------------------------- Python API


def test_explain_report_is_a_plain_function_that_writes_atomically(
    trained: Callable[[str], Any], tiny_store: Path, tmp_path: Path
) -> None:
    import inspect

    import explain
    import explain.reporting as module  # importing the package must not rebind the name

    assert inspect.isfunction(explain.report) and explain.report.__module__ == "explain"
    assert explain.report.__doc__ and "Example:" in explain.report.__doc__
    m = trained("mlp-cancer")
    out = explain.report(m, out=tmp_path / "new" / "r.html", samples=2)
    assert out == tmp_path / "new" / "r.html"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temp file left
    # a ref and a folder: the default file name inside it
    again = explain.report("mlp-cancer", out=tmp_path, store=tiny_store, samples=1)
    assert again == tmp_path / f"mlp-cancer-{m.version}-report.html" and again.exists()
    assert module.write_report(m, tmp_path / "w.html", samples=1).exists()
    with pytest.raises(TypeError, match="sample"):
        explain.report(m, out=tmp_path / "x.html", sample=1)  # a misspelt option fails


def test_explain_report_imports_the_report_only_when_called(
    modules_loaded_by: Callable[[str, tuple[str, ...]], list[str]],
) -> None:
    report_modules = ("explain.reporting", "jinja2", "matplotlib", "markdown_it")
    code = "import explain; assert callable(explain.report)"
    assert modules_loaded_by(code, report_modules) == []


def test_bad_arguments_say_what_to_pass(trained: Callable[[str], Any]) -> None:
    from explain.reporting import build_report

    m = trained("mlp-cancer")
    with pytest.raises(DataError, match="expected 1..48"):
        build_report(m, samples=0)
    with pytest.raises(ZooError, match="unknown method"):
        build_report(m, method="lime")
    with pytest.raises(ZooError, match="expected a TrainedModel"):
        build_report("mlp-cancer")


def test_training_curves_mark_the_best_epoch() -> None:
    from explain.reporting import training_curves

    history = {
        "loss": [1.0, 0.6, 0.4, 0.3],
        "val_loss": [1.1, 0.8, 0.9, 1.0],
        "accuracy": [0.5, 0.7, 0.8, 0.9],
        "val_accuracy": [0.4, 0.6, 0.6, 0.55],
        "lr": [0.1] * 4,
    }
    fig = training_curves(history, {"best_epoch": 2, "overfit_from": 3})
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "best epoch 2" in labels and "val loss" in labels


# --------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_reports_render_offline_in_chromium(
    report_html: Callable[[str], str], tmp_path: Path
) -> None:
    from dashboard import harness

    problem = harness.browser_problem()
    if problem:
        pytest.fail(problem)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    attempted: list[str] = []
    problems: list[str] = []
    with harness.chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def gate(route: Any) -> None:
            url = route.request.url
            if url.startswith(("file:", "data:")):
                route.continue_()
            else:
                attempted.append(url)
                route.abort()

        page.route("**/*", gate)
        page.on(
            "console",
            lambda msg: problems.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda err: problems.append(str(err)))
        for name in FAMILIES:
            path = tmp_path / f"{name}.html"
            path.write_text(report_html(name), encoding="utf-8")
            page.goto(path.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth])"
            )
            assert len(images) == len(parse(report_html(name)).imgs)
            assert images and all(done and width > 0 for done, width in images), name
            assert page.title().startswith("Explainability report")
            page.screenshot(path=str(OUTPUT / f"report-{name}.png"), full_page=True)
    assert attempted == [], f"the report tried to fetch {attempted}"
    assert problems == [], f"console errors (a CSP violation?): {problems}"
    assert (OUTPUT / "report-cnn-digits.png").read_bytes().startswith(PNG_MAGIC)
