"""``make demo``: micrograd's README example, then an MLP trained on XOR, drawn forward and backward.

    python -m microgradx.demo [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import data
from .engine import Value
from .gallery import readme_example
from .gradcheck import gradcheck
from .nn import MLP
from .train import accuracy, fit, predict
from .viz import draw_dot, save


def show_readme_example() -> None:
    a, b = Value(-4.0, label="a"), Value(2.0, label="b")
    g = readme_example(a, b)
    g.backward()
    print("1. micrograd's README example, computed by microgradx:")
    print(f"   g = {g.data:.4f}   dg/da = {a.grad:.4f}   dg/db = {b.grad:.4f}"
          "   (micrograd: 24.7041, 138.8338, 645.5773)")
    print("   checked against central finite differences:")
    print("   " + str(gradcheck(readme_example, -4.0, 2.0)).replace("\n", "\n   "))


def train_xor(out: Path) -> None:
    X, y = data.xor()
    model = MLP(2, [4, 1], activation="tanh", seed=0)
    print(f"\n2. Training {model.describe()} on XOR (mean squared error, SGD):")
    history = fit(model, X, y, loss="mse", optimizer="sgd", lr=0.3, epochs=300)
    acc = accuracy(model, X, y)
    print(f"   accuracy {acc * 100:.0f}% after {history.epochs} epochs (loss {history.loss[-1]:.4f})")
    print(f"   {'x1':>4} {'x2':>4} {'target':>7} {'score':>8}")
    for (x1, x2), t, s in zip(X, y, predict(model, X), strict=True):
        print(f"   {x1:>4g} {x2:>4g} {t:>+7g} {s:>+8.3f}")

    # Draw what the trained network computes for one input, and how its output
    # depends on every parameter (∂score/∂parameter, filled in by backward()).
    score = model([1.0, 0.0])
    model.zero_grad()
    score.backward()
    out.mkdir(parents=True, exist_ok=True)
    written = [
        save(draw_dot(score), out / "xor_forward.svg"),
        save(draw_dot(score, view="backward"), out / "xor_backward.svg"),
        save(draw_dot(score, view="backward", collapse="neuron"), out / "xor_neurons.svg"),
    ]
    print("\n3. The trained network on input (1, 0), forward and backward (open them in a browser):")
    for path in written:
        print(f"   {path}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=Path("out"), help="folder for the drawings (default: out)")
    args = ap.parse_args(argv)
    show_readme_example()
    train_xor(args.out)


if __name__ == "__main__":
    main()
