"""Step-by-step backward: one frame per step, and the HTML player tested in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from microgradx.draw.animate import animate_backward, animation_html, backward_steps
from microgradx.draw.flow import Flow
from tests.graphs import chain_rule_example

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def highlighted(source: str) -> list[str]:
    return re.findall(r"^\t(n\d+) \[.*class=current", source, flags=re.M)


def test_one_frame_for_the_seed_and_one_per_interior_node():
    *_, L = chain_rule_example()
    frames = list(backward_steps(L))
    assert len(frames) == 1 + 3  # seed, then L, d, c (or c, d)


def test_each_frame_highlights_the_node_being_processed():
    *_, L = chain_rule_example()
    flow = Flow.of(L)
    expected = [flow.order.index(s.current) for s in flow.simulate()]
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
    assert page.count('<template class="frame"') == 4
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
  current: Array.from(document.querySelectorAll('#stage g.node.current title')).map(t => t.textContent),
  grads: Array.from(document.querySelectorAll('#stage g.node text')).map(t => t.textContent)
           .filter(s => s.startsWith('grad')),
  caption: document.getElementById('caption').textContent,
  slider: document.getElementById('slider').value,
  play: document.getElementById('play').textContent,
  frames: document.querySelectorAll('template.frame').length
})"""


@needs_dot
def test_player_steps_through_frames_in_a_real_browser(browser, tmp_path):
    *_, L = chain_rule_example()
    path = animate_backward(L, tmp_path / "steps.html", interval_ms=150)
    tools = DevTools(browser)
    try:
        for domain in ("Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable")
        tools.call("Page.navigate", url=Path(path).resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        state = json.loads(tools.js(STATE))
        assert state["frames"] == 4 and state["slider"] == "0"
        assert state["caption"].startswith("step 0/3: seed L.grad = 1.0")
        assert any(g.startswith("grad ?") for g in state["grads"])

        seen = [state]
        for _ in range(3):
            tools.js("document.getElementById('next').click()")
            seen.append(json.loads(tools.js(STATE)))
        assert [s["slider"] for s in seen] == ["0", "1", "2", "3"]
        assert len(seen[1]["current"]) == 1 and seen[2]["current"] != seen[1]["current"]
        assert seen[3]["current"] != seen[2]["current"]
        assert seen[2]["grads"] != seen[1]["grads"] and seen[3]["grads"] != seen[2]["grads"]
        assert not any(g.startswith("grad ?") for g in seen[3]["grads"])
        assert "grad 9.0 + 6.0 = 15.0" in seen[3]["grads"]

        tools.js("const s = document.getElementById('slider'); s.value = '1';"
                 "s.dispatchEvent(new Event('input'))")
        assert json.loads(tools.js(STATE))["current"] == seen[1]["current"]

        tools.js("document.getElementById('play').click()")
        assert "pause" in json.loads(tools.js(STATE))["play"]
        tools.js("new Promise(r => setTimeout(r, 800))")
        after = json.loads(tools.js(STATE))
        assert after["slider"] == "3" and "play" in after["play"]  # played to the end, then stopped
        assert tools.errors() == []
    finally:
        tools.ws.close()


def test_the_browser_harness_does_see_console_errors(browser, tmp_path):
    """Guards the check above: a page with a script error must be reported."""
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
