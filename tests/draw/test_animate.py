"""Step-by-step backward: one frame per step, and the HTML player tested in a real headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from microgradx.draw.animate import animate_backward, animation_html, backward_steps
from microgradx.draw.dot import OUTPUT_WIDTH, GraphTooLargeError
from microgradx.draw.flow import Flow
from microgradx.engine import Value
from microgradx.examples import neuron
from microgradx.graph import topological_order
from tests.graphs import Counting, chain_rule_example

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def highlighted(source: str) -> list[str]:
    return re.findall(r"^\t(n\d+) \[.*class=current", source, flags=re.M)


def page_data(page: str) -> dict:
    """The steps of an animation page: the JSON block the player reads."""
    block = re.search(r'<script type="application/json" id="steps">(.*?)</script>', page, flags=re.S)
    return json.loads(block.group(1))


def tanh_chain(n: int) -> Value:
    x = Value(0.3, label="x")
    y = x
    for _ in range(n):
        y = y.tanh()
    y.label = "y"
    return y


def test_one_frame_for_the_seed_and_one_per_interior_node():
    *_, L = chain_rule_example()
    frames = list(backward_steps(L))
    assert len(frames) == 1 + 3  # seed, then L, d, c (or c, d)


def test_each_frame_highlights_the_node_being_processed():
    *_, L = chain_rule_example()
    flow = Flow.of(L)
    written = topological_order(L, first_argument_first=True)  # node ids number the nodes as written
    expected = [written.index(s.current) for s in flow.simulate()]
    got = [highlighted(f.source) for f in backward_steps(L)]
    assert got == [[f"n{i}"] for i in expected]
    assert got[0] == got[1] == [f"n{len(flow.order) - 1}"]  # seed, then the output itself is processed


def test_gradients_fill_in_step_by_step():
    *_, L = chain_rule_example()
    sources = [f.source for f in backward_steps(L)]
    assert "grad ?" in sources[0] and "grad 1.0" in sources[0]
    assert sources[-1].count("grad ?") == 0
    assert "grad 9.0 + 6.0 = 15.0" in sources[-1]
    partial = [s for s in sources if "so far" in s]
    assert partial, "a node reached by two paths shows a partial sum before its second path arrives"


def test_replayed_gradients_equal_backward_and_leave_user_grads_alone():
    a, b, e, L = chain_rule_example()
    final = Flow.of(L).simulate()[-1].grads
    assert (a.grad, b.grad, e.grad) == (0.0, 0.0, 0.0)
    list(backward_steps(L))
    assert (a.grad, b.grad, L.grad) == (0.0, 0.0, 0.0)
    L.backward()
    assert [final[v] for v in (a, b, e)] == [a.grad, b.grad, e.grad]


def test_edges_show_contributions_only_after_their_gradient_has_flowed():
    *_, L = chain_rule_example()
    first, *_, last = (f.source for f in backward_steps(L))
    assert "upstream ? × local" in first
    assert "upstream ? × local" not in last


@needs_dot
def test_animation_is_one_self_contained_html_file(tmp_path):
    *_, L = chain_rule_example()
    path = animate_backward(L, tmp_path / "steps.html")
    page = path.read_text(encoding="utf-8")
    assert len(page_data(page)["frames"]) == 4
    assert page.count("<svg") == 1  # laid out once; the steps only restyle it
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<script src" not in page and "<link" not in page
    for control in ('id="play"', 'id="prev"', 'id="next"', 'id="slider"'):
        assert control in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.html"]  # written atomically, no temp file


@needs_dot
def test_animation_html_is_deterministic():
    pages = []
    for _ in range(2):
        *_, L = chain_rule_example()
        pages.append(animation_html(L))
    assert pages[0] == pages[1]


# ---------------------------------------------------------------- size: O(N), and refused before any work


@needs_dot
def test_the_page_stores_each_steps_changes_not_every_frame():
    """Per step only the texts that changed: the page grows linearly with the graph (it was quadratic)."""
    sizes = {}
    for n in (20, 40, 80):
        data = page_data(animation_html(tanh_chain(n)))
        assert len(data["frames"]) == n + 1
        changes = sum(len(f["set"]) for f in data["frames"])
        assert changes <= 3 * (n + 1)  # each tanh step: its input's grad and one edge label
        sizes[n] = len(json.dumps(data))
    assert sizes[80] / sizes[40] < 2.3 and sizes[40] / sizes[20] < 2.3


def test_a_graph_too_large_to_animate_is_refused_before_any_step(monkeypatch):
    root = tanh_chain(30_000)
    count = Counting(monkeypatch)
    with pytest.raises(GraphTooLargeError, match="more than max_nodes=2000"):
        animate_backward(root, "never-written.html")
    assert count.steps == 0 and count.locals == 0  # no replay, no local derivative
    assert count.prev <= 2 * 2000 + 10            # the count stopped just past the limit
    with pytest.raises(GraphTooLargeError):
        next(backward_steps(root))
    assert count.steps == 0 and count.locals == 0


def test_collapsed_animation_moves_one_neuron_at_a_time():
    from microgradx.nn import MLP

    model = MLP(2, [3, 1], activation="tanh", seed=0)
    loss = (model([0.5, -1.0]) - 1.0) ** 2
    frames = [f.source for f in backward_steps(loss, collapse="neuron")]
    # seed, **2, -, the output neuron (all its ops at once), then each hidden neuron
    assert len(frames) == 1 + 2 + 1 + 3
    assert "L1.n0 passes its gradient back through its 6 ops to L0.n0, L0.n1, L0.n2" in frames[3]
    assert frames[-1].count("grad ?") == 0


def test_a_user_defined_op_runs_its_own_closure_in_the_replay():
    x = Value(0.5, label="x")
    out = Value(x.data ** 3, (x,), "cube")

    def _backward():
        x.grad += 3 * x.data ** 2 * out.grad

    out._backward = _backward
    out.label = "y"
    last = list(backward_steps(out))[-1].source
    assert "∂y/∂x = user-defined = 0.75" in last
    assert "upstream 1.0 × local 0.75 = 0.75" in last


# ---------------------------------------------------------------- real browser

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--remote-debugging-port=0"]


class DevTools:
    """A minimal Chrome DevTools Protocol client: send commands, collect events."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events:
                if ev.get("method") == method:
                    return ev
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    def errors(self) -> list[dict]:
        bad = []
        for ev in self.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                bad.append(p)
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                bad.append(p)
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                bad.append(p)
        return bad


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium browser on PATH: the animation's browser test needs it "
                    "(Debian/Ubuntu: sudo apt-get install chromium)")
    pytest.importorskip("websocket", reason="the browser test drives Chromium with websocket-client: "
                                            "pip install websocket-client")
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"Chromium did not start its debugging port (exit code {proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        yield pages[0]["webSocketDebuggerUrl"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


STATE = """JSON.stringify({
  current: Array.from(document.querySelectorAll('#canvas g.node.current > title')).map(t => t.textContent),
  grads: Array.from(document.querySelectorAll('#canvas g.node text')).map(t => t.textContent)
           .filter(s => s.startsWith('grad')),
  caption: document.getElementById('caption').textContent,
  slider: document.getElementById('slider').value,
  play: document.getElementById('play').textContent,
  frames: JSON.parse(document.getElementById('steps').textContent).frames.length,
  frame: window.microgradxPlayer.frame(),
  scale: window.microgradxPlayer.view.scale
})"""


def open_page(tools: DevTools, path: Path, width: int = 1400, height: int = 900) -> None:
    for domain in ("Runtime", "Log", "Page"):
        tools.call(f"{domain}.enable")
    tools.events.clear()  # (enabling replays the messages of the page the last test left open)
    tools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    tools.call("Page.navigate", url=Path(path).resolve().as_uri())
    tools.wait_for("Page.loadEventFired")


def state(tools: DevTools) -> dict:
    return json.loads(tools.js(STATE))


def press(tools: DevTools, key: str, code: str, key_code: int) -> None:
    """A real key press, as the browser delivers it to whatever has the focus."""
    for kind in ("keyDown", "keyUp"):
        tools.call("Input.dispatchKeyEvent", type=kind, key=key, code=code, windowsVirtualKeyCode=key_code)


@needs_dot
@pytest.mark.slow
def test_player_steps_through_frames_in_a_real_browser(browser, tmp_path):
    *_, L = chain_rule_example()
    path = animate_backward(L, tmp_path / "steps.html", interval_ms=150)
    tools = DevTools(browser)
    try:
        open_page(tools, path)
        first = state(tools)
        assert first["frames"] == 4 and first["slider"] == "0"
        assert first["caption"].startswith("step 0/3: seed L.grad = 1.0")
        assert any(g.startswith("grad ?") for g in first["grads"])

        seen = [first]
        for _ in range(3):
            tools.js("document.getElementById('next').click()")
            seen.append(state(tools))
        assert [s["slider"] for s in seen] == ["0", "1", "2", "3"]
        assert [s["caption"][:9] for s in seen] == ["step 0/3:", "step 1/3:", "step 2/3:", "step 3/3:"]
        assert len(seen[1]["current"]) == 2 and seen[2]["current"] != seen[1]["current"]  # the box and its op
        assert seen[3]["current"] != seen[2]["current"]
        assert seen[2]["grads"] != seen[1]["grads"] and seen[3]["grads"] != seen[2]["grads"]
        assert not any(g.startswith("grad ?") for g in seen[3]["grads"])
        assert "grad 9.0 + 6.0 = 15.0" in seen[3]["grads"]

        tools.js("const s = document.getElementById('slider'); s.value = '1';"
                 "s.dispatchEvent(new Event('input'))")
        assert state(tools)["current"] == seen[1]["current"]
        assert state(tools)["grads"] == seen[1]["grads"]  # going back replays the same state

        tools.js("document.getElementById('play').click()")
        assert "pause" in state(tools)["play"]
        tools.js("new Promise(r => setTimeout(r, 800))")
        after = state(tools)
        assert after["slider"] == "3" and "play" in after["play"]  # played to the end, then stopped
        assert tools.errors() == []
    finally:
        tools.ws.close()


@needs_dot
@pytest.mark.slow
def test_keys_act_once_even_when_the_slider_has_the_focus(browser, tmp_path):
    path = animate_backward(neuron(), tmp_path / "steps.html")
    tools = DevTools(browser)
    try:
        open_page(tools, path)
        tools.js("document.getElementById('slider').focus()")
        press(tools, "ArrowRight", "ArrowRight", 39)
        assert state(tools)["frame"] == 1
        press(tools, "ArrowRight", "ArrowRight", 39)
        assert state(tools)["frame"] == 2
        press(tools, "End", "End", 35)
        assert state(tools)["frame"] == 5 and state(tools)["slider"] == "5"
        press(tools, "ArrowLeft", "ArrowLeft", 37)
        assert state(tools)["frame"] == 4
        press(tools, "Home", "Home", 36)
        assert state(tools)["frame"] == 0
        assert tools.errors() == []
    finally:
        tools.ws.close()


@needs_dot
@pytest.mark.slow
def test_player_zooms_and_a_neurons_text_is_legible(browser, tmp_path):
    """Fit, 1:1, zoom buttons, the wheel; and a screenshot at the size a laptop shows it."""
    path = animate_backward(neuron(), tmp_path / "steps.html")
    tools = DevTools(browser)
    try:
        open_page(tools, path, 1400, 900)
        tools.js("window.microgradxPlayer.show(2)")
        # The smallest text of the drawing, as the reader sees it (CSS pixels on screen).
        smallest = tools.js("Math.min(...Array.from(document.querySelectorAll('#canvas text'))"
                            ".filter(t => t.textContent.trim()).map(t => t.getBoundingClientRect().height))")
        assert smallest >= 11, f"a neuron's smallest text is {smallest:.1f} px on a 1400 px wide window"
        shot = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
        assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
        (tmp_path / "neuron_step2.png").write_bytes(shot)

        start = state(tools)["scale"]
        tools.js("document.getElementById('zoomin').click()")
        assert state(tools)["scale"] == pytest.approx(start * 1.25)
        tools.js("document.getElementById('actual').click()")
        assert state(tools)["scale"] == pytest.approx(1.0)
        tools.js("document.getElementById('stage').dispatchEvent(new WheelEvent('wheel', "
                 "{deltaY: -400, clientX: 300, clientY: 400, bubbles: true, cancelable: true}))")
        assert state(tools)["scale"] > 1.5
        tools.js("document.getElementById('fit').click()")
        fitted = tools.js("(() => { const r = document.querySelector('#canvas svg').getBoundingClientRect(),"
                          " s = document.getElementById('stage').getBoundingClientRect();"
                          " return [r.width <= s.width + 1, r.height <= s.height + 1]; })()")
        assert fitted == [True, True]
        assert tools.errors() == []
    finally:
        tools.ws.close()


HOSTILE = ['</script><script>window.pwned = 1</script>', '<img src=x onerror="window.pwned=1">',
           '"]}<!-- ', "\u2028'; window.pwned=1; '", "&lt;b&gt;", "${window.pwned=1}"]


@needs_dot
@pytest.mark.slow
def test_hostile_labels_stay_text_in_the_player(browser, tmp_path):
    xs = [Value(float(i + 1), label=lab) for i, lab in enumerate(HOSTILE)]
    out = xs[0]
    for v in xs[1:]:
        out = out * v + v
    out.label = HOSTILE[0]
    path = animate_backward(out, tmp_path / "steps.html")
    page = path.read_text(encoding="utf-8")
    assert page.count("</script>") == 2  # the data block and the player; no label ends either early
    assert "<img src=x" not in page
    tools = DevTools(browser)
    try:
        open_page(tools, path)
        tools.js("window.microgradxPlayer.show(3)")
        assert tools.js("typeof window.pwned") == "undefined"
        texts = tools.js("Array.from(document.querySelectorAll('#canvas text')).map(t => t.textContent).join(' ')")
        assert "<img src=x" in texts  # shown as the text it is
        assert tools.errors() == []
    finally:
        tools.ws.close()


@pytest.mark.slow
def test_the_browser_harness_does_see_console_errors(browser, tmp_path):
    """Guards the checks above: a page with a script error must be reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><title>x</title><script>console.error('boom'); undefinedCall();</script>")
    tools = DevTools(browser)
    try:
        for domain in ("Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable")
        tools.call("Page.navigate", url=page.resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        tools.js("1")
        assert len(tools.errors()) >= 2
    finally:
        tools.ws.close()


@needs_dot
def test_without_a_path_the_player_is_an_object_jupyter_shows_inline_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    *_, L = chain_rule_example()
    anim = animate_backward(L)
    assert list(tmp_path.iterdir()) == []                       # nothing written
    assert anim.html == animation_html(L)
    inline = anim._repr_html_()
    assert '<iframe srcdoc="' in inline and inline.count("<script") == 1  # the page is escaped into srcdoc
    assert len(repr(anim)) < 120  # Jupyter's text fallback: a line, not the page
    assert anim.save("later.html").read_text(encoding="utf-8") == anim.html


@needs_dot
@pytest.mark.slow
def test_the_inline_player_runs_inside_its_frame_in_a_real_browser(browser, tmp_path):
    *_, L = chain_rule_example()
    notebook_like = tmp_path / "output.html"  # what Jupyter puts into the output area: the iframe
    notebook_like.write_text(f"<!doctype html><html><body>{animate_backward(L)._repr_html_()}</body></html>",
                             encoding="utf-8")
    tools = DevTools(browser)
    try:
        open_page(tools, notebook_like)
        frame = "document.querySelector('iframe').contentWindow"
        tools.js(f"new Promise(r => {{ const f = () => {frame}.microgradxPlayer ? r() : setTimeout(f, 50); f(); }})")
        tools.js(f"{frame}.document.getElementById('next').click()")
        caption = tools.js(f"{frame}.document.getElementById('caption').textContent")
        assert caption.startswith("step 1/3:")
        height = tools.js("document.querySelector('iframe').getBoundingClientRect().height")
        assert height >= 400 and tools.errors() == []
    finally:
        tools.ws.close()


@needs_dot
def test_in_a_notebook_the_player_carries_its_first_frame_as_a_png_that_survives_sanitizing():
    # JupyterLab sanitizes an untrusted notebook's HTML: frames and scripts go, a data: image stays. So the first
    # frame stands in for the player until the cell runs; then the one-line script removes it.
    data, _ = animate_backward(neuron())._repr_mimebundle_()
    page = data["text/html"]
    sanitized = re.sub(r"<iframe.*?</iframe>|<script>.*?</script>", "", page, flags=re.S)
    first = re.fullmatch(r'<div><img src="data:image/png;base64,([^"]+)" width="(\d+)" alt="[^"]+"></div>', sanitized)
    assert first and base64.b64decode(first.group(1)).startswith(b"\x89PNG")
    assert 0 < int(first.group(2)) <= OUTPUT_WIDTH
    assert page.endswith('<script>document.currentScript.parentElement.querySelector("img").remove()</script></div>')
    assert data["text/plain"].startswith("<Animation: a backward-pass player of ")
