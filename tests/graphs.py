"""Small graphs, and a read counter, shared by the drawing, explanation and animation tests."""

from __future__ import annotations

from microgradx import Value


def chain_rule_example() -> tuple[Value, Value, Value, Value]:
    """(a, b, e, L) with L = c·d, c = a·b, d = a + e: a is used on two paths (no backward yet).

    At a = 2, b = 3, e = 1: a.grad = b·d + c·1 = 3·3 + 6 = 15.
    """
    a, b, e = Value(2.0, label="a"), Value(3.0, label="b"), Value(1.0, label="e")
    c = a * b
    c.label = "c"
    d = a + e
    d.label = "d"
    L = c * d
    L.label = "L"
    return a, b, e, L


class Counting:
    """Counts how often the engine's nodes are read (inputs, local derivatives, chain-rule steps),
    to show where the work stops. Installed with pytest's ``monkeypatch``, undone after the test."""

    def __init__(self, monkeypatch) -> None:
        self.prev = self.locals = self.steps = 0
        prev, local, step = Value._prev, Value.local_derivatives, Value._backward

        def counted_prev(node):
            self.prev += 1
            return prev.fget(node)

        def counted_local(node):
            self.locals += 1
            return local(node)

        def counted_step(node):
            self.steps += 1
            return step(node)

        monkeypatch.setattr(Value, "_prev", property(counted_prev))
        monkeypatch.setattr(Value, "local_derivatives", counted_local)
        monkeypatch.setattr(Value, "_backward", counted_step)
