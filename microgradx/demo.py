"""``make demo``: micrograd's README example, computed by microgradx, with its gradients checked."""

from __future__ import annotations

from .engine import Value
from .gradcheck import gradcheck


def readme_example(a: Value, b: Value) -> Value:
    """The expression from micrograd's README (and ours)."""
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g


def main() -> None:
    a, b = Value(-4.0, label="a"), Value(2.0, label="b")
    g = readme_example(a, b)
    g.backward()
    print("micrograd's README example, computed by microgradx:")
    print(f"  g       = {g.data:.4f}   (micrograd: 24.7041)")
    print(f"  dg/da   = {a.grad:.4f}  (micrograd: 138.8338)")
    print(f"  dg/db   = {b.grad:.4f}  (micrograd: 645.5773)")
    print("\nThe same gradients by central finite differences:")
    print(gradcheck(readme_example, -4.0, 2.0))


if __name__ == "__main__":
    main()
