"""`zoo explain` and `zoo report` through the real command-line entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# what each family's explanation must print, besides the common lines
EXPECTED = {
    "cnn-digits": ["prediction:", "(p = ", "top 5 pixels by |SHAP|", "pixel (row "],
    "gru-digits": ["prediction:", "top 5 time steps by |SHAP|", "step "],
    "lstm-co2": ["forecast:", " ppm", "actual:", "naive no-change error", "t-1"],
    "mlp-cancer": ["prediction:", "top 5 features by |SHAP|", "true class: "],
    "gan-digits": ["discriminator real score:", "p_real = ", "a real test image"],
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_zoo_explain_prints_and_writes_png(
    tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    out = tmp_path / "x.png"
    argv = ["--store", str(tiny_store), "explain", name, "--index", "3", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert f"{name}@" in printed and "test sample 3" in printed
    assert "method: layerwise (requested auto)" in printed
    assert "additivity error: max " in printed
    assert f"wrote {out}" in printed
    for text in EXPECTED[name]:
        assert text in printed, f"{text!r} missing from:\n{printed}"
    # five attributions, each with its input value and signed SHAP value
    assert sum(1 for line in printed.splitlines() if "  input " in line and " SHAP " in line) == 5


def test_zoo_explain_prints_raw_feature_values(
    tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zoo

    d = zoo.load("mlp-cancer", store=tiny_store).dataset()
    argv = ["--store", str(tiny_store), "explain", "mlp-cancer", "--index", "3"]
    assert main([*argv, "--out", str(tmp_path / "x.png")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "  input " in line]
    raw = d.features_to_units(d.x_test[3])  # the measurements, not the standardized inputs
    scale, offset = (np.broadcast_to(a, raw.shape) for a in d.feature_scaling)
    assert len(rows) == 5
    for line in rows:
        name, rest = line.split("  input ")
        j = d.feature_names.index(name.strip())
        # float32 noise around a true 0 (-4.4e-10) is printed as the 0 it is
        noise = 1e-6 * float(abs(scale[j]) + abs(offset[j]))
        assert float(rest.split()[0]) == pytest.approx(raw[j], rel=1e-3, abs=noise), line


def test_zoo_explain_forecaster_in_ppm_is_additive(
    tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    import zoo

    m = zoo.load("lstm-co2", store=tiny_store)
    d = m.dataset()
    argv = ["--store", str(tiny_store), "explain", "lstm-co2", "--index", "3"]
    assert main([*argv, "--out", str(tmp_path / "x.png")]) == 0
    printed = capsys.readouterr().out
    number = r"([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)"
    found = re.search(
        rf"additivity error: max {number} ppm, mean {number} ppm \(base {number} ppm \+ "
        rf"sum of SHAP {number} ppm vs output {number} ppm\)",
        printed,
    )
    assert found, printed
    err, _, base, total, output = (float(v) for v in found.groups())
    change = float(d.to_units(m.predict(d.x_test[3:4]))[0, 0])
    assert output == pytest.approx(change, rel=1e-3, abs=1e-4)  # the forecast change, ppm
    assert f"change {change:+.3f} ppm" in printed
    assert abs(base + total - output) == pytest.approx(err, rel=1e-2, abs=1e-3)
    shap_rows = [line for line in printed.splitlines() if "  input " in line]
    assert len(shap_rows) == 5 and all(line.endswith(" ppm") for line in shap_rows)
    x_ppm = d.features_to_units(d.x_test[3, :, 0])
    for line in shap_rows:  # "weekly change, t-K  input   -0.6 ppm  SHAP +0.1 ppm"
        label, rest = line.split("  input ")
        k = int(label.strip().rsplit("t-", 1)[1])
        assert float(rest.split()[0]) == pytest.approx(x_ppm[-k], abs=1e-3), line


def test_zoo_explain_default_png_name_in_cwd(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zoo

    monkeypatch.chdir(tmp_path)
    version = zoo.load("mlp-cancer", store=tiny_store).version
    assert main(["--store", str(tiny_store), "explain", "mlp-cancer", "--index", "17"]) == 0
    assert (tmp_path / f"mlp-cancer-{version}-17.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize("index", ["100000", "-1"])
def test_zoo_explain_index_out_of_range(
    tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], index: str
) -> None:
    import zoo

    n = len(zoo.dataset("cnn-digits").x_test)
    out = tmp_path / "x.png"
    argv = ["--store", str(tiny_store), "explain", "cnn-digits", "--index", index]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "out of range" in err and f"has {n} samples" in err and f"0..{n - 1}" in err
    assert not out.exists()


def test_zoo_explain_unknown_method(
    tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--store", str(tiny_store), "explain", "mlp-cancer", "--method", "lime"]
    assert main([*argv, "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown method 'lime'" in capsys.readouterr().err


def test_zoo_report_writes_html(
    tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports" / "cancer.html"
    argv = ["--store", str(tiny_store), "report", "mlp-cancer", "--out", str(out)]
    assert main([*argv, "--samples", "2"]) == 0
    printed = capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'id="explanations"' in html
    assert html.count('<article class="card') == 2
    assert f"wrote {out} (" in printed and "KiB)" in printed


def test_zoo_report_rejects_bad_sample_count(
    tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    argv = ["--store", str(tiny_store), "report", "mlp-cancer", "--out", str(out)]
    assert main([*argv, "--samples", "0"]) == 2
    assert "expected 1..48" in capsys.readouterr().err
    assert not out.exists()


def test_explain_and_report_are_registered_through_entry_points() -> None:
    from explain.cli import register_explain, register_report
    from zoo.cli import build_parser, registered_commands

    commands = registered_commands()
    assert commands["explain"].load() is register_explain
    assert commands["report"].load() is register_report
    parser = build_parser(["explain", "report"])
    args = parser.parse_args(["explain", "cnn-digits@2", "--index", "4", "--method", "gradient"])
    assert (args.ref, args.index, args.out, args.method) == ("cnn-digits@2", 4, None, "gradient")
    args = parser.parse_args(["report", "mlp-cancer", "--out", "r.html", "--store", "s"])
    assert (args.samples, str(args.out), args.store) == (6, "r.html", "s")
