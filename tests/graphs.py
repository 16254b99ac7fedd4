"""Small graphs shared by the drawing, explanation and animation tests."""

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
