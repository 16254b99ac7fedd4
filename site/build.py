"""Build the course as a static site that runs in the browser: JupyterLite, Pyodide, the notebooks.

    python site/build.py [--out _site] [--pyodide local|cdn]

Every file the browser loads is local (``--pyodide local``, the default): a school can serve
``_site/`` from an intranet or a USB stick with ``python -m http.server -d _site``. Each
downloaded file is checked against the pins in ``site/assets.json`` -- the npm tarballs by their
registry integrity (sha512), PyPI files by sha256, and every Pyodide package file against the
``pyodide-lock.json`` of the official npm ``pyodide`` package of the same version -- and the build
stops on the first mismatch. ``--pyodide cdn`` builds a smaller site that loads Pyodide and its
packages from Pyodide's public CDN instead.

The build always starts clean (a fresh staging folder and no ``.jupyterlite.doit.db``): a stale
JupyterLite task database silently skips setting ``pyodideUrl``, and then every cell waits for the
CDN forever. The result is checked for that too.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE_SRC = Path(__file__).resolve().parent
ASSETS = json.loads((SITE_SRC / "assets.json").read_text(encoding="utf-8"))
# The kernel's worker script lives four folders below the site root; Pyodide fetches a wheel URL
# from the worker, so relative wheel URLs in loadPyodideOptions.packages are written from there.
WORKER_TO_ROOT = "../../../../"
NOTEBOOK_APP = "notebooks/index.html?path="
LINE_MAX = 160  # characters of a notebook's one line on the landing page


class AssetMismatch(RuntimeError):
    """A downloaded file is not the pinned one: the build stops rather than ship it."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def check(name: str, got: str, pinned: str) -> None:
    if got != pinned:
        raise AssetMismatch(f"{name}: hash {got} is not the pinned {pinned}. The file changed upstream or in "
                            f"transit; remove it from the cache and rebuild, or update site/assets.json on purpose.")


def run(cmd: list[str], cwd: Path | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd)


def npm_tarball(spec: str, integrity: str, cache: Path) -> bytes:
    """The npm package ``spec`` as a verified .tgz (fetched once with ``npm pack``)."""
    name, version = spec.rsplit("@", 1)
    path = cache / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not path.exists():
        run(["npm", "pack", spec, "--pack-destination", str(cache), "--silent"])
    data = path.read_bytes()
    check(path.name, npm_integrity(data), integrity)
    return data


def pypi_file(spec: str, filename: str, digest: str, cache: Path, binary_only: bool = True) -> bytes:
    """A file from PyPI, fetched once with pip and checked against its pinned sha256."""
    path = cache / filename
    if not path.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache), spec]
        run(cmd + (["--only-binary", ":all:"] if binary_only else []))
    data = path.read_bytes()
    check(filename, sha256(data), digest)
    return data


def tar_member(tgz: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile(f"package/{name}")
        if member is None:
            raise AssetMismatch(f"the npm package has no file {name}")
        return member.read()


# --------------------------------------------------------------------- Pyodide


def pyodide_files(cache: Path) -> dict[str, bytes]:
    """Pyodide's core (npm) and the package files the course needs, every one verified."""
    spec = ASSETS["pyodide"]
    tgz = npm_tarball(spec["npm"], spec["integrity"], cache)
    files = {name: tar_member(tgz, name) for name in spec["core"]}
    lock = json.loads(files["pyodide-lock.json"])
    by_file = {entry["file_name"]: entry["sha256"] for entry in lock["packages"].values()}

    packages = ASSETS["pyodide_packages"]
    carrier = packages["carrier"]
    wheel = pypi_file(carrier["pypi"], carrier["file"], carrier["sha256"], cache)
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        for filename, pinned in packages["files"].items():
            if filename not in by_file:
                raise AssetMismatch(f"{filename} is not in {spec['npm']}'s pyodide-lock.json")
            data = zf.read(carrier["folder"] + filename)  # only the upstream file, nothing else of the carrier
            check(filename, sha256(data), pinned)
            check(f"{filename} (against pyodide-lock.json)", sha256(data), by_file[filename])
            files[filename] = data
    return files


# --------------------------------------------------------------------- notebooks


@dataclass(frozen=True)
class Notebook:
    name: str
    title: str
    summary: str


def first_sentence(text: str) -> str:
    """The first sentence of a markdown paragraph, markup removed."""
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    match = re.match(r"(.+?[.!?])(\s|$)", " ".join(text.split()))
    sentence = match.group(1) if match else " ".join(text.split())
    head = sentence.split(": ", 1)[0]
    # A long sentence is cut at its colon, where the teaching sentences turn to their example -- unless
    # what stands before the colon is only a lead-in ("First micrograd's own demo:").
    if len(sentence) > LINE_MAX and len(head) >= 40:
        sentence = head
    return sentence.rstrip(".:") + "."  # a sentence that leads into a formula ends here


def read_notebook(path: Path) -> Notebook:
    """Title and one line from the notebook's first markdown cell (its ``#`` heading and first paragraph)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next((c for c in nb["cells"] if c["cell_type"] == "markdown"), None)
    if cell is None:
        raise ValueError(f"{path.name} has no markdown cell to take its title from")
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    blocks = [b.strip() for b in source.split("\n\n") if b.strip()]
    if not blocks or not blocks[0].startswith("#"):
        raise ValueError(f"{path.name}: its first markdown cell must start with a '# title' line")
    lines = blocks[0].splitlines()
    title = lines[0].lstrip("#").strip()
    rest = "\n".join(lines[1:]).strip() or (blocks[1] if len(blocks) > 1 else "")
    return Notebook(path.name, title, first_sentence(rest))


def notebooks() -> list[Notebook]:
    return [read_notebook(p) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]


# --------------------------------------------------------------------- pages

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
a {{ color: #1558b0; }} li {{ margin: .4rem 0; }} .muted {{ color: #666; }}
img.drawing {{ max-width: 100%; height: auto; border: 1px solid #ddd; margin: .5rem 0 1.5rem; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .8rem; text-align: left; }}
</style></head><body>
{body}
</body></html>
"""


def lite_config_script(page: str) -> str:
    """JupyterLite's ``jupyter-config-data`` block from its generated root page.

    Every JupyterLite app page reads this block from the root ``index.html`` (config-utils.js fetches it),
    so the landing page that replaces that page must carry it unchanged.
    """
    match = re.search(r'<script[^>]*id="jupyter-config-data"[^>]*>.*?</script>', page, re.S)
    if match is None:
        raise RuntimeError("JupyterLite's index.html has no jupyter-config-data block: has its layout changed?")
    return match.group(0)


def landing_page(items: list[Notebook], mode: str, config_script: str) -> str:
    rows = "\n".join(
        f'<li><a href="{NOTEBOOK_APP}{html.escape(nb.name)}"><b>{html.escape(nb.title)}</b></a>'
        f"<br><span class=muted>{html.escape(nb.summary)}</span></li>" for nb in items)
    where = ("Everything it needs is in this folder: it works with no network at all."
             if mode == "local" else "Python (Pyodide) is loaded from its public CDN.")
    body = f"""<h1>microgradx: backpropagation, from one value to a network</h1>
<p>The course runs in your browser: Python, numpy, matplotlib and scikit-learn through
<a href="https://pyodide.org">Pyodide</a>, the notebooks through JupyterLite, the drawings through Graphviz compiled to
WebAssembly. Nothing to install. {where} The first notebook takes a few seconds to start Python.</p>
<ol>
{rows}
</ol>
<p><a href="gallery/index.html">The gallery</a> (drawings and step-by-step players) ·
<a href="lab/index.html">JupyterLab</a> · <a href="licenses.html">Licences</a></p>
{config_script}"""
    return PAGE.format(title="microgradx: the course in your browser", body=body)


def gallery_page(svgs: list[str], players: list[str]) -> str:
    pictures = "\n".join(f'<h3>{html.escape(Path(s).stem)}</h3><img class="drawing" src="{html.escape(s)}" '
                         f'alt="{html.escape(Path(s).stem)}">' for s in svgs)
    links = "\n".join(f'<li><a href="{html.escape(p)}">{html.escape(Path(p).stem)}</a></li>' for p in players)
    body = f"""<p><a href="../index.html">← the course</a></p><h1>Gallery</h1>
<h2>Players: the backward pass step by step</h2><ul>{links}</ul>
<h2>Drawings</h2>{pictures}"""
    return PAGE.format(title="microgradx gallery", body=body)


LICENCES = [
    ("microgradx", "MIT", "this course and library"),
    ("Pyodide", "MPL-2.0", "CPython compiled to WebAssembly, and its package builds"),
    ("CPython", "PSF-2.0", "inside Pyodide"),
    ("JupyterLite, JupyterLab, the Pyodide kernel", "BSD-3-Clause", "the notebook interface"),
    ("Graphviz (in @viz-js/viz)", "EPL-1.0", "draws the graphs"),
    ("@viz-js/viz", "MIT", "Graphviz for the web"),
    ("Expat (in @viz-js/viz)", "MIT", "XML parser used by Graphviz"),
    ("numpy", "BSD-3-Clause", ""), ("matplotlib", "Matplotlib licence (PSF-based, BSD-compatible)", ""),
    ("scikit-learn", "BSD-3-Clause", ""), ("scipy", "BSD-3-Clause", ""), ("OpenBLAS", "BSD-3-Clause", ""),
    ("pillow", "MIT-CMU (HPND)", ""), ("contourpy, kiwisolver, cycler, joblib, threadpoolctl", "BSD-3-Clause", ""),
    ("fonttools, pyparsing, six, python-dateutil, pytz, tqdm", "MIT / BSD / Apache-2.0 (each its own)", ""),
    ("IPython, traitlets, pygments, prompt-toolkit, comm", "BSD-3-Clause / BSD-2-Clause", ""),
    ("graphviz (Python package)", "MIT", ""),
]


def licences_page(mode: str) -> str:
    rows = "\n".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>"
                     for a, b, c in LICENCES)
    pins = ASSETS["pyodide"]["npm"] + ", " + ASSETS["viz"]["npm"] + f" (Graphviz {ASSETS['viz']['graphviz_version']})"
    body = f"""<p><a href="index.html">← the course</a></p><h1>Licences</h1>
<p>This site redistributes the following software unchanged ({html.escape(pins)}; mode: {mode}).
Each package's own licence file is inside its wheel in <code>static/pyodide/</code> and <code>pypi/</code>;
JupyterLite's are in <code>third-party-licenses.json</code> files beside its scripts.</p>
<table><tr><th>software</th><th>licence</th><th></th></tr>
{rows}</table>"""
    return PAGE.format(title="microgradx: licences", body=body)


# --------------------------------------------------------------------- the build


def build_wheel(out: Path) -> Path:
    """The microgradx wheel, built from this checkout, for piplite."""
    tmp = out / "wheel"
    shutil.rmtree(tmp, ignore_errors=True)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp), str(ROOT)])
    (wheel,) = tmp.glob("microgradx-*-py3-none-any.whl")
    return wheel


def lite_config(mode: str, wheel_names: list[str]) -> dict[str, object]:
    if mode == "local":
        pyodide_url = "./static/pyodide/pyodide.js"
    else:
        pyodide_url = ASSETS["pyodide"]["cdn"] + "pyodide.js"
    # Loaded when the kernel starts, so `import microgradx` works in the first cell with no %pip.
    packages = ["numpy"] + [WORKER_TO_ROOT + "pypi/" + name for name in wheel_names]
    return {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "microgradx course",
            "exposeAppInBrowser": True,  # lets `make site-test` drive the notebook through JupyterLab's commands
            "litePluginSettings": {
                "@jupyterlite/pyodide-kernel-extension:kernel": {
                    "pyodideUrl": pyodide_url,
                    "disablePyPIFallback": True,
                    "loadPyodideOptions": {"packages": packages},
                }
            },
        },
    }


def stage_wheels(stage: Path, cache: Path) -> list[str]:
    """The wheels piplite and the kernel install, in ``stage/pypi``: the pinned pure-Python ones (checked against
    their hashes) and microgradx itself; returns the ones the kernel installs, in order."""
    pypi = stage / "pypi"
    pypi.mkdir()
    wheel_order: list[str] = []
    for filename, digest in ASSETS["pypi_wheels"].items():
        if filename.startswith("_"):
            continue
        name, version = filename.split("-")[:2]
        (pypi / filename).write_bytes(pypi_file(f"{name}=={version}", filename, digest, cache))
        if name in ("graphviz", "tqdm"):
            wheel_order.append(filename)
    wheel = build_wheel(stage.parent)
    shutil.copy2(wheel, pypi / wheel.name)
    wheel_order.append(wheel.name)
    return wheel_order


def add_renderer(out: Path, cache: Path) -> None:
    """The renderer the library calls under Pyodide (microgradx.draw.wasm), from the site's own files."""
    viz = ASSETS["viz"]
    viz_js = tar_member(npm_tarball(viz["npm"], viz["integrity"], cache), viz["file"])
    (out / "static" / "viz").mkdir(parents=True, exist_ok=True)
    (out / "static" / "viz" / "viz-global.js").write_bytes(viz_js)
    (out / "static" / "viz" / "LICENSE-NOTE.txt").write_text(
        f"{viz['npm']} (MIT), containing Graphviz {viz['graphviz_version']} (EPL-1.0) and Expat (MIT).\n",
        encoding="utf-8")


def add_gallery(out: Path) -> None:
    """The committed drawings and players (``viz/``), with a page listing them."""
    gallery = out / "gallery"
    gallery.mkdir(exist_ok=True)
    svgs: list[str] = []
    players: list[str] = []
    for path in sorted((ROOT / "viz").iterdir()):
        if path.suffix in (".svg", ".html"):
            shutil.copy2(path, gallery / path.name)
            (svgs if path.suffix == ".svg" else players).append(path.name)
    (gallery / "index.html").write_text(gallery_page(svgs, players), encoding="utf-8")


def build(out: Path, mode: str, cache: Path, stage: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(stage, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    for db in (ROOT / ".jupyterlite.doit.db", stage / ".jupyterlite.doit.db"):
        db.unlink(missing_ok=True)
    stage.mkdir(parents=True)

    wheel_order = stage_wheels(stage, cache)

    if mode == "local":
        target = stage / "static" / "pyodide"
        target.mkdir(parents=True)
        for filename, data in pyodide_files(cache).items():
            (target / filename).write_bytes(data)

    files = stage / "files"
    files.mkdir()
    items = notebooks()
    for nb in items:
        shutil.copy2(ROOT / "notebooks" / nb.name, files / nb.name)

    # Settings for the course: every cell rendered (no windowing), so a long notebook scrolls smoothly
    # and `make site-test` can measure every output, not only those on screen.
    shutil.copy2(SITE_SRC / "overrides.json", stage / "overrides.json")
    config = lite_config(mode, wheel_order)
    (stage / "jupyter-lite.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (stage / "jupyter_lite_config.json").write_text(json.dumps({"LiteBuildConfig": {
        "contents": [str(files)], "no_sourcemaps": True}}),
        encoding="utf-8")
    jupyter = [sys.executable, "-m", "jupyter", "lite", "build"]
    run(jupyter + ["--lite-dir", str(stage), "--output-dir", str(out.resolve())], cwd=stage)

    add_renderer(out, cache)

    add_course_css(out)
    add_gallery(out)
    config_script = lite_config_script((out / "index.html").read_text(encoding="utf-8"))
    (out / "index.html").write_text(landing_page(items, mode, config_script), encoding="utf-8")
    (out / "licenses.html").write_text(licences_page(mode), encoding="utf-8")
    (out / ".nojekyll").write_text("", encoding="utf-8")
    verify(out, mode, config)


APPS = ("lab", "notebooks", "tree", "edit", "consoles", "repl")


def add_course_css(out: Path) -> None:
    """Link site/course.css (drawings scale to the output width) into each JupyterLite app page."""
    (out / "static" / "course.css").write_bytes((SITE_SRC / "course.css").read_bytes())
    for app in APPS:
        page = out / app / "index.html"
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        if "</head>" not in text:
            raise RuntimeError(f"{page} has no </head>: JupyterLite's page layout changed")
        link = '<link rel="stylesheet" href="../static/course.css">'
        page.write_text(text.replace("</head>", link + "\n</head>", 1), encoding="utf-8")


def verify(out: Path, mode: str, config: dict[str, object]) -> None:
    """The built site says what the build meant: our pyodideUrl (the stale-database trap), no PyPI fallback."""
    built = json.loads((out / "jupyter-lite.json").read_text(encoding="utf-8"))
    key = "@jupyterlite/pyodide-kernel-extension:kernel"
    got = built["jupyter-config-data"]["litePluginSettings"][key]
    want = config["jupyter-config-data"]["litePluginSettings"][key]  # type: ignore[index]
    for field in ("pyodideUrl", "disablePyPIFallback"):
        if got.get(field) != want[field]:
            raise RuntimeError(f"_site/jupyter-lite.json has {field}={got.get(field)!r}, not {want[field]!r}: "
                               "JupyterLite dropped our settings (stale .jupyterlite.doit.db or a misnamed folder)")
    if mode == "local" and not (out / "static" / "pyodide" / "pyodide.asm.wasm").exists():
        raise RuntimeError("the local site has no static/pyodide/pyodide.asm.wasm")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"site built in {out} ({mode} Pyodide): {size / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_site")
    parser.add_argument("--pyodide", choices=("local", "cdn"), default="local")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "site-cache")
    args = parser.parse_args(argv)
    stage = ROOT / "build" / "site-lite"
    try:
        build(args.out, args.pyodide, args.cache, stage)
    except AssetMismatch as e:
        print(f"site build stopped: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    raise SystemExit(main())
