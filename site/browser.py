"""Run the course's notebooks in headless Chromium against the built site: ``make site-test``.

    python site/browser.py [--site _site] [--only 01,02,04] [--shots /tmp/site-shots] [--report out.json]

Serves ``_site`` on 127.0.0.1 (``python -m http.server``), opens each notebook in JupyterLite's
notebook view at 1280x800, runs all cells and checks, for each notebook: no error output, at least
one drawing (an ``<svg>`` or ``<img>``) in the outputs, nothing wider than its output area, and, for
the notebook with the player, that pressing "step" changes the step shown. Every request that
leaves 127.0.0.1 is blocked and fails the run. Chromium is Debian's (``/usr/bin/chromium``), driven
by Playwright; no browser is downloaded. Exit status 0 when every notebook passes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 800
LOCAL_HOSTS = ("127.0.0.1",)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
KERNEL_TIMEOUT_S = 180
RUN_TIMEOUT_S = 300

# In the page: the notebook panel, its cells and outputs, read from JupyterLab's own models.
STATE_JS = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return {ready: false};
  const ctx = panel.sessionContext;
  const kernel = ctx.session && ctx.session.kernel;
  const cells = [];
  const model = panel.content.model;
  for (let i = 0; model && i < model.cells.length; i++) {
    const c = model.cells.get(i);
    if (c.type !== 'code') continue;
    const outs = [];
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      outs.push({type: o.output_type, name: o.name || '', ename: o.ename || '', evalue: o.evalue || '',
                 text: (Array.isArray(o.text) ? o.text.join('') : (o.text || '')).slice(0, 2000)});
    }
    cells.push({count: c.executionCount, outputs: outs});
  }
  return {ready: true, status: kernel ? kernel.status : 'none', cells};
}"""

# Widths: every output element against its output area, at the current window size.
LAYOUT_JS = """() => {
  const res = {drawings: 0, too_wide: [], areas: 0};
  for (const area of document.querySelectorAll('.jp-OutputArea-output')) {
    res.areas++;
    const box = area.getBoundingClientRect();
    for (const el of area.querySelectorAll('svg, img, iframe, canvas')) {
      if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
      if (el.tagName.toLowerCase() === 'svg' && el.parentElement.closest('svg')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      if (el.tagName.toLowerCase() !== 'iframe') res.drawings++;
      if (r.right > box.right + 1)
        res.too_wide.push(el.tagName + ' ' + Math.round(r.width) + 'px in ' + Math.round(box.width) + 'px');
    }
    if (area.scrollWidth > area.clientWidth + 1)
      res.too_wide.push('output scrolls: ' + area.scrollWidth + ' > ' + area.clientWidth);
  }
  return res;
}"""


@dataclass
class Result:
    notebook: str
    ok: bool = False
    kernel_ready_s: float = 0.0
    run_all_s: float = 0.0
    cells: int = 0
    drawings: int = 0
    errors: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    too_wide: list[str] = field(default_factory=list)
    player_steps: bool | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(site: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(site)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            with urlopen(base, timeout=1):
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the site server on {base} did not start")


def is_local(url: str) -> bool:
    """A request that stays on this machine: 127.0.0.1, data the page holds itself, or a URL with no host."""
    return url.startswith(("data:", "blob:", "about:")) or urlparse(url).hostname in (*LOCAL_HOSTS, None)


def guarded_context(p: Any, outside: list[str]) -> tuple[Any, Any]:
    """Debian's Chromium, headless, and a 1280x800 context in which every request that leaves 127.0.0.1 is
    blocked and listed in ``outside`` (the caller fails on it)."""
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, service_workers="block")

    def guard(route: Any) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    context.on("request", lambda r: None if is_local(r.url) else outside.append(r.url))
    return browser, context


def wait(page: Any, predicate_js: str, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = page.evaluate(predicate_js)
        if state:
            return state
        page.wait_for_timeout(250)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def run_notebook(context: Any, base: str, name: str, shots: Path | None) -> Result:
    result = Result(name)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    start = time.monotonic()
    page.goto(f"{base}notebooks/index.html?path={name}")
    try:
        wait(page, "() => { const s = (" + STATE_JS + ")(); return s.ready && s.status === 'idle'; }",
             KERNEL_TIMEOUT_S, "the kernel to start")
        result.kernel_ready_s = time.monotonic() - start
        page.wait_for_timeout(500)
        t0 = time.monotonic()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        done_js = ("() => { const s = (" + STATE_JS + ")(); if (!s.ready) return false;"
                   " const err = s.cells.some(c => c.outputs.some(o => o.type === 'error'));"
                   " const all = s.cells.every(c => c.count !== null);"
                   " return (s.status === 'idle' && (all || err)) ? s : false; }")
        page.wait_for_timeout(1000)
        state = wait(page, done_js, RUN_TIMEOUT_S, "run-all to finish")
        result.run_all_s = time.monotonic() - t0
        page.wait_for_timeout(1500)  # let images and iframes lay out
        result.cells = len(state["cells"])
        for i, cell in enumerate(state["cells"]):
            for out in cell["outputs"]:
                if out["type"] == "error":
                    result.errors.append(f"code cell {i + 1}: {out['ename']}: {out['evalue']}")
                elif out["type"] == "stream" and out["name"] == "stderr":
                    result.stderr.append(f"code cell {i + 1}: {out['text'][:300]}")
            if cell["count"] is None and not result.errors:
                result.errors.append(f"code cell {i + 1} did not run")
        layout = page.evaluate(LAYOUT_JS)
        result.drawings = layout["drawings"]
        result.too_wide = layout["too_wide"]
        result.player_steps = check_player(page)
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{Path(name).stem}.png"))
    except Exception as e:  # noqa: BLE001 -- reported per notebook, the run goes on
        result.errors.append(f"{type(e).__name__}: {e}")
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{Path(name).stem}-failed.png"))
    if console:
        result.notes["console_errors"] = console[:10]
    bad_stderr = [s for s in result.stderr if "Traceback" in s or "Error" in s]
    result.ok = (not result.errors and not bad_stderr and result.drawings > 0 and not result.too_wide
                 and result.player_steps is not False)
    page.close()
    return result


def check_player(page: Any) -> bool | None:
    """None when the notebook has no player; else whether pressing "step" changes the step shown."""
    frames = [f for f in page.frames if f != page.main_frame and f.query_selector("#next")]
    if not frames:
        return None
    frame = frames[0]
    frame.click("#first")
    before = frame.inner_text("#caption")
    frame.click("#next")
    frame.wait_for_timeout(300)
    after = frame.inner_text("#caption")
    return bool(after) and after != before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_site")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,02,04")
    parser.add_argument("--shots", type=Path, default=None, help="save a 1280x800 screenshot of each notebook here")
    parser.add_argument("--report", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    names = sorted(p.name for p in (args.site / "files").glob("*.ipynb"))
    if args.only:
        wanted = tuple(args.only.split(","))
        names = [n for n in names if n.startswith(wanted)]
    if not names:
        print(f"no notebooks to run in {args.site}/files", file=sys.stderr)
        return 2
    outside: list[str] = []
    server, base = serve(args.site)
    results: list[Result] = []
    try:
        with sync_playwright() as p:
            browser, context = guarded_context(p, outside)
            for name in names:
                r = run_notebook(context, base, name, args.shots)
                results.append(r)
                status = "ok  " if r.ok else "FAIL"
                print(f"{status} {name}: kernel {r.kernel_ready_s:.1f} s, run-all {r.run_all_s:.1f} s, "
                      f"{r.drawings} drawings, player {r.player_steps}, errors {r.errors}, "
                      f"too wide {r.too_wide}, stderr {[s[:120] for s in r.stderr]}", flush=True)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    outside = sorted(set(outside))
    if args.report is not None:
        args.report.write_text(json.dumps({"outside_requests": outside, "results": [asdict(r) for r in results]},
                                          indent=2), encoding="utf-8")
    if outside:
        print(f"FAIL: requests left 127.0.0.1 (blocked): {outside[:10]}")
    passed = sum(r.ok for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) and not outside else 1


if __name__ == "__main__":
    raise SystemExit(main())
