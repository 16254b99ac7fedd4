"""The browser course: its build (site/build.py), the in-browser renderer (draw.wasm), and a smoke run in Chromium."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import microgradx.draw.wasm as wasm
from microgradx import Value, draw_dot

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"site_{name}", ROOT / "site" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = load("build")


# --------------------------------------------------------------------- the landing page


def test_every_notebook_gives_the_landing_page_a_title_and_one_line_from_its_first_markdown_cell():
    items = build.notebooks()
    assert [nb.name for nb in items] == [p.name for p in NOTEBOOKS]
    for nb in items:
        first = json.loads((ROOT / "notebooks" / nb.name).read_text())["cells"][0]
        assert nb.title and nb.title in "".join(first["source"])
        assert 10 < len(nb.summary) < 300 and "\n" not in nb.summary


def test_a_landing_line_is_one_whole_sentence_never_a_lead_in_ending_in_a_colon():
    lead_in = "First the demo: " + "a model learns to separate two interleaving half-moons, " * 3 + "end."
    assert build.first_sentence(lead_in) == lead_in  # "First the demo:" alone would say nothing
    long_head = "The engine builds a fresh graph for every sample at every step: " + "x, " * 60 + "y."
    assert build.first_sentence(long_head) == "The engine builds a fresh graph for every sample at every step."
    assert build.first_sentence("A neuron squashes the result:") == "A neuron squashes the result."


def test_the_landing_page_links_every_notebook_and_keeps_jupyterlites_config_block():
    items = build.notebooks()
    config = '<script id="jupyter-config-data" type="application/json">{"baseUrl": "./"}</script>'
    page = build.landing_page(items, "local", config)
    for nb in items:
        assert f'href="notebooks/index.html?path={nb.name}"' in page
    assert config in page  # every JupyterLite app page reads its settings from the root index.html


def test_a_notebook_whose_first_markdown_cell_has_no_heading_is_refused(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": ["Just text."]}]}
    path = tmp_path / "00_x.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="must start with a '# title' line"):
        build.read_notebook(path)


# --------------------------------------------------------------------- pinned assets


def test_a_file_whose_hash_differs_from_its_pin_stops_the_build_naming_it():
    with pytest.raises(build.AssetMismatch, match="numpy.whl: hash abc is not the pinned def"):
        build.check("numpy.whl", "abc", "def")


def test_npm_integrity_is_computed_as_the_registry_writes_it():
    # sha512 of the empty string, base64, as npm's "integrity" field would give it.
    assert build.npm_integrity(b"") == ("sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKH"
                                        "fuwvY7kxvUdBeoGlODJ6+SfaPg==")


def test_the_pins_cover_numpy_matplotlib_scikit_learn_and_every_dependency_in_the_lock():
    packages = build.ASSETS["pyodide_packages"]
    names = {f.split("-")[0].lower() for f in packages["files"]}
    assert {"numpy", "matplotlib", "scikit_learn", "scipy", "micropip", "openblas"} <= names
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in packages["files"].values())


def test_the_site_config_turns_pypi_off_and_loads_microgradx_when_the_kernel_starts():
    config = build.lite_config("local", ["graphviz-0.21-py3-none-any.whl", "microgradx-0.1.0-py3-none-any.whl"])
    kernel = config["jupyter-config-data"]["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["disablePyPIFallback"] is True
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.js"
    assert kernel["loadPyodideOptions"]["packages"][-1].endswith("pypi/microgradx-0.1.0-py3-none-any.whl")
    cdn = build.lite_config("cdn", [])
    assert cdn["jupyter-config-data"]["litePluginSettings"][
        "@jupyterlite/pyodide-kernel-extension:kernel"]["pyodideUrl"].startswith("https://")


# --------------------------------------------------------------------- the in-browser renderer


class DotBackedViz:
    """Stands in for viz-js's Viz instance, laying out with the real `dot` (an independent witness)."""

    def __init__(self) -> None:
        self.calls = 0

    def render(self, source: str, options: Any) -> Any:
        self.calls += 1
        done = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True)
        if done.returncode:
            return SimpleNamespace(status="failure", errors=[SimpleNamespace(message=done.stderr.decode().strip())],
                                   output=None)
        return SimpleNamespace(status="success", errors=[], output=done.stdout.decode())


@pytest.fixture
def browser(monkeypatch):
    """As under Pyodide: sys.platform is emscripten and the renderer is loaded."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed: the stand-in renderer needs it")
    viz = DotBackedViz()
    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setattr(wasm, "_renderer", viz)
    monkeypatch.setattr(wasm, "_options", lambda: {"format": "svg"})
    return viz


def test_outside_pyodide_the_wasm_renderer_refuses_and_says_dot_draws_instead():
    with pytest.raises(RuntimeError, match="only under Pyodide"):
        wasm.render_svg("digraph { a -> b }")


def test_under_pyodide_a_drawing_is_rendered_by_the_wasm_renderer_not_by_a_process(browser):
    a = Value(2.0, label="a")
    svg = draw_dot(a * a)._repr_image_svg_xml()
    assert browser.calls == 1
    assert "<svg" in svg and ">a</text>" in svg


def test_under_pyodide_the_renderer_reports_graphvizs_own_message_for_bad_dot(browser):
    with pytest.raises(ValueError, match="could not draw this graph: .*syntax error"):
        wasm.render_svg("digraph { a -> }")


def test_in_the_browser_only_svg_can_be_rendered_and_the_error_says_so(browser):
    with pytest.raises(ValueError, match="renders only as SVG, not 'png'"):
        draw_dot(Value(1.0)).pipe(format="png")


def test_in_the_browser_pipe_returns_bytes_or_text_as_graphviz_does(browser):
    g = draw_dot(Value(1.0, label="x"))
    assert isinstance(g.pipe(format="svg"), bytes)
    assert isinstance(g.pipe(format="svg", encoding="utf-8"), str)


# --------------------------------------------------------------------- the smoke run in Chromium


def missing_for_smoke() -> str | None:
    if not Path(build.__file__).exists():
        return "site/build.py is missing"
    if shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None or importlib.util.find_spec("jupyterlite_core") is None:
        return "the site extra is not installed (pip install -e '.[site]')"
    if shutil.which("npm") is None and not (ROOT / "_site" / "jupyter-lite.json").exists():
        return "npm is not installed and no site is built"
    return None


@pytest.mark.slow
def test_three_notebooks_run_in_headless_chromium_with_drawings_that_fit_and_a_player_that_steps(tmp_path):
    reason = missing_for_smoke()
    if reason:
        pytest.skip(reason)
    site = ROOT / "_site"
    if not (site / "jupyter-lite.json").exists() or not (site / "static" / "pyodide").exists():
        assert build.main(["--out", str(site)]) == 0
    report = tmp_path / "report.json"
    browser_run = load("browser")
    code = browser_run.main(["--site", str(site), "--only", "01,02,03", "--report", str(report)])
    data = json.loads(report.read_text())
    assert data["outside_requests"] == []
    for r in data["results"]:
        assert r["errors"] == [], r["notebook"]
        assert r["drawings"] > 0 and r["too_wide"] == [], r["notebook"]
    assert any(r["player_steps"] is True for r in data["results"])  # 02 has the player
    assert code == 0


# --------------------------------------------------------------------- the README's instructions


def readme_site_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The course in your browser", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_every_make_line_in_the_readmes_browser_section_is_a_real_target():
    lines = [line for line in readme_site_block() if line.startswith("make ")]
    assert {"make site", "make site-test"} <= set(lines)
    for line in lines:
        done = subprocess.run(["make", "-n", *line.split()[1:]], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "site/" in done.stdout  # the target runs the site's own scripts


def test_the_readmes_serve_line_serves_a_built_site_folder(tmp_path):
    (serve_line,) = [line for line in readme_site_block() if "http.server" in line]
    site = tmp_path / "_site"
    site.mkdir()
    (site / "index.html").write_text("<title>course</title>")
    browser_run = load("browser")
    args = serve_line.split()[1:]  # as written, on a free port of 127.0.0.1
    port = browser_run.free_port()
    args = [str(port) if a == "8000" else a for a in args] + ["--bind", "127.0.0.1"]
    proc = subprocess.Popen([sys.executable, *args], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import time
        from urllib.request import urlopen
        for _ in range(100):
            try:
                with urlopen(f"http://127.0.0.1:{port}/index.html", timeout=1) as page:
                    assert b"<title>course</title>" in page.read()
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail("the README's server line did not serve the folder")
    finally:
        proc.terminate()
        proc.wait()


def test_the_browser_checks_let_only_this_machines_requests_through():
    is_local = load("browser").is_local
    for url in ("http://127.0.0.1:8000/notebooks/index.html", "data:image/png;base64,AA", "blob:http://127.0.0.1/x",
                "about:blank"):
        assert is_local(url), url
    for url in ("https://cdn.jsdelivr.net/pyodide/v0.27.7/full/pyodide.js", "https://pypi.org/simple/numpy/",
                "http://localhost.example.com/", "http://10.0.0.1/"):
        assert not is_local(url), url
