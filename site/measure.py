"""Figures for the browser course, measured in headless Chromium: ``python site/measure.py``.

Time until the first cell can run (page load to an idle kernel), then in that kernel: loading the
in-browser Graphviz, drawing a neuron with it, and training XOR to 100% accuracy. Serves ``_site``
on 127.0.0.1 like ``site/browser.py``, and blocks any request that leaves it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import KERNEL_TIMEOUT_S, ROOT, STATE_JS, guarded_context, serve, wait  # noqa: E402

CODE = r'''
import time
import microgradx as mx
import microgradx.draw.wasm as wasm
from microgradx import MLP, Value, draw_dot
from microgradx.nn.train import accuracy
t = time.perf_counter(); await wasm.load(); load_ms = (time.perf_counter() - t) * 1e3
x1, x2, w1, w2 = Value(2.0, label="x1"), Value(0.0, label="x2"), Value(-3.0, label="w1"), Value(1.0, label="w2")
n = x1 * w1 + x2 * w2 + Value(6.8813735870195432, label="b"); o = n.tanh(); o.backward()
times = []
for _ in range(5):
    t = time.perf_counter(); svg = draw_dot(o)._repr_image_svg_xml(); times.append((time.perf_counter() - t) * 1e3)
X, y = mx.data.xor()
model = MLP(2, [2, 1], activation="tanh", seed=0)
t = time.perf_counter()
history = mx.fit(model, X, y, loss="mse", optimizer="sgd", lr=0.1, epochs=500, progress=False)
fit_s = time.perf_counter() - t
print("FIGURES", {"renderer_load_ms": round(load_ms), "neuron_draw_ms": [round(v, 1) for v in times],
                  "svg_bytes": len(svg), "xor_accuracy": accuracy(model, X, y), "xor_fit_s": round(fit_s, 2)})
'''

RUN_JS = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  let text = '';
  const future = kernel.requestExecute({code});
  future.onIOPub = (msg) => {
    const c = msg.content;
    if (c.text) text += c.text;
    if (c.ename) text += 'ERROR ' + c.ename + ': ' + c.evalue;
  };
  await future.done;
  return text;
}"""


def main() -> int:
    from playwright.sync_api import sync_playwright

    site = ROOT / "_site"
    server, base = serve(site)
    outside: list[str] = []
    try:
        with sync_playwright() as p:
            browser, context = guarded_context(p, outside)
            page = context.new_page()
            start = time.monotonic()
            page.goto(f"{base}notebooks/index.html?path=03_a_neuron.ipynb")
            wait(page, "() => { const s = (" + STATE_JS + ")(); return s.ready && s.status === 'idle'; }",
                 KERNEL_TIMEOUT_S, "the kernel to start")
            first_cell_s = time.monotonic() - start
            text = page.evaluate(RUN_JS, CODE)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    print(json.dumps({"site_mb": round(size / 1e6, 1), "first_cell_s": round(first_cell_s, 1),
                      "outside_requests": outside}))
    print(text.strip())
    return 0 if "ERROR" not in text and not outside else 1


if __name__ == "__main__":
    raise SystemExit(main())
