"""Small 2-D toy data sets, generated offline with numpy and a seed.

Every function returns ``(X, y)``: ``X`` a float array of shape (n, 2) and
``y`` the labels, in the form the loss needs (the ``labels`` argument):

* ``'signed'``: -1.0 / +1.0 (hinge, mse; micrograd's moons demo)
* ``'binary'``: 0.0 / 1.0  (bce, bce_with_logits)
* ``'index'``:  ints 0..k-1 (softmax_cross_entropy); the only form for k > 2 classes

The same arguments (and seed) always give the same arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["xor", "moons", "circles", "spirals", "blobs", "LABELS", "DATASETS"]

LABELS = ("signed", "binary", "index")


def _labels(k: np.ndarray, labels: str, n_classes: int) -> np.ndarray:
    """Class indices ``k`` in the requested form.

    Index labels are ``np.intp``, numpy's index type: int64 here, int32 in the browser (32-bit WebAssembly).
    """
    if labels not in LABELS:
        raise ValueError(f"unknown labels form {labels!r}; choose one of {', '.join(map(repr, LABELS))}")
    if labels == "index":
        return k.astype(np.intp)
    if n_classes != 2:
        raise ValueError(f"labels={labels!r} is for two classes; with {n_classes} classes use labels='index'")
    return (k * 2.0 - 1.0) if labels == "signed" else k.astype(np.float64)


def _check_n(n: int, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"n must be an int >= {minimum}, got {n!r}")
    return int(n)


def _check_noise(noise: float) -> float:
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0 (a standard deviation), got {noise!r}")
    return float(noise)


def _shuffle(X: np.ndarray, k: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(X))
    return X[order], k[order]


def xor(n: int | None = None, noise: float = 0.1, seed: int = 0,
        labels: str = "signed") -> tuple[np.ndarray, np.ndarray]:
    """XOR: label 1 when exactly one coordinate is 1.

    ``xor()`` is the four corners (0,0), (0,1), (1,0), (1,1) with labels
    0, 1, 1, 0 (as ``labels``). ``xor(n=200, noise=0.1)`` is the noisy-cloud
    variant: n points around the corners (in turn), each coordinate with
    Gaussian noise of standard deviation ``noise``.
    """
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    k = np.array([0, 1, 1, 0])
    if n is None:
        return corners.copy(), _labels(k, labels, 2)
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    idx = np.arange(n) % 4
    X = corners[idx] + rng.normal(0.0, _check_noise(noise), size=(n, 2))
    X, kk = _shuffle(X, k[idx], rng)
    return X, _labels(kk, labels, 2)


def moons(n: int = 100, noise: float = 0.1, seed: int = 0, labels: str = "signed") -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``), shuffled.

    The upper moon (label 0 / -1) is (cos t, sin t) for t in [0, π]; the lower
    one (label 1 / +1) is (1 - cos t, 1/2 - sin t). Gaussian noise of standard
    deviation ``noise`` is added to every coordinate.
    """
    n = _check_n(n, 2)
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)])])
    k = np.concatenate([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    X = X + rng.normal(0.0, _check_noise(noise), size=X.shape)
    X, k = _shuffle(X, k, rng)
    return X, _labels(k, labels, 2)


def circles(n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0,
            labels: str = "signed") -> tuple[np.ndarray, np.ndarray]:
    """A small circle (radius ``factor``, label 1 / +1) inside a unit circle (label 0 / -1), shuffled."""
    n = _check_n(n, 2)
    if not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   factor * np.column_stack([np.cos(t_in), np.sin(t_in)])])
    k = np.concatenate([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    X = X + rng.normal(0.0, _check_noise(noise), size=X.shape)
    X, k = _shuffle(X, k, rng)
    return X, _labels(k, labels, 2)


def spirals(n: int = 150, n_classes: int = 3, noise: float = 0.2, turns: float = 0.65, seed: int = 0,
            labels: str = "index") -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms (CS231n's spiral data), ``n`` points in all, shuffled.

    Arm j has radius r from 0 to 1 and angle θ = 2π·turns·r + 2πj/k plus Gaussian
    noise of standard deviation ``noise`` on the angle; points are (r sin θ, r cos θ).
    """
    n = _check_n(n, n_classes)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    rng = np.random.default_rng(seed)
    k = np.arange(n) % n_classes
    Xs, ks = [], []
    for j in range(n_classes):
        m = int(np.sum(k == j))
        r = np.linspace(0.0, 1.0, m)
        theta = 2 * np.pi * (turns * r + j / n_classes) + rng.normal(0.0, _check_noise(noise), m)
        Xs.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        ks.append(np.full(m, j, dtype=np.intp))
    X, kk = _shuffle(np.vstack(Xs), np.concatenate(ks), rng)
    return X, _labels(kk, labels, n_classes)


def blobs(n: int = 100, n_classes: int = 3, std: float = 0.5, seed: int = 0, centers: np.ndarray | None = None,
          labels: str = "index") -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: ``n`` points around ``n_classes`` centres (default: evenly on a circle of radius 2)."""
    if centers is None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
            raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
        a = 2 * np.pi * np.arange(n_classes) / n_classes
        centers = 2.0 * np.column_stack([np.cos(a), np.sin(a)])
    else:
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2 or centers.shape[1] != 2:
            raise ValueError(f"centers must have shape (k, 2), got {centers.shape}")
        n_classes = len(centers)
    n = _check_n(n, n_classes)
    rng = np.random.default_rng(seed)
    k = np.arange(n) % n_classes
    X = centers[k] + rng.normal(0.0, _check_noise(std), size=(n, 2))
    X, kk = _shuffle(X, k, rng)
    return X, _labels(kk, labels, int(n_classes))


#: Data sets by name (for the command line).
DATASETS = {"xor": xor, "moons": moons, "circles": circles, "spirals": spirals, "blobs": blobs}
