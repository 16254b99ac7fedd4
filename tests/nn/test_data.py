"""Specification of microgradx.data: shapes, label forms, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from microgradx.nn.data import DATASETS, blobs, circles, moons, spirals, xor


def test_xor_is_the_four_corners_with_xor_labels():
    X, y = xor(labels="binary")
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_xor_signed_labels_are_minus_one_and_plus_one():
    assert xor()[1].tolist() == [-1.0, 1.0, 1.0, -1.0]


def test_noisy_xor_cloud_keeps_each_point_near_its_corner_label():
    X, y = xor(n=200, noise=0.1, seed=1, labels="binary")
    assert X.shape == (200, 2)
    corner = np.round(np.clip(X, 0, 1))
    assert np.mean((corner[:, 0] != corner[:, 1]) == (y == 1)) > 0.97


@pytest.mark.parametrize("make", [moons, circles, lambda **k: xor(n=100, **k)])
def test_binary_sets_have_balanced_labels_in_each_form(make):
    for labels, values in (("signed", {-1.0, 1.0}), ("binary", {0.0, 1.0}), ("index", {0, 1})):
        X, y = make(seed=0, labels=labels)
        assert X.shape == (100, 2) and X.dtype == np.float64
        assert set(y.tolist()) == values
        assert abs(np.sum(y == max(values)) - 50) <= 1


def test_index_labels_are_integers():
    assert spirals(n=30)[1].dtype == np.intp  # int32 in the browser, where np.bincount needs it
    assert moons(labels="index")[1].dtype == np.intp


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_same_seed_gives_identical_arrays_and_other_seeds_differ(name):
    make = DATASETS[name]
    kwargs = {"n": 40} if name == "xor" else {}
    X1, y1 = make(seed=3, **kwargs)
    X2, y2 = make(seed=3, **kwargs)
    X3, _ = make(seed=4, **kwargs)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_moons_without_noise_lie_on_two_half_circles():
    X, y = moons(n=100, noise=0.0, labels="index")
    upper, lower = X[y == 0], X[y == 1]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)


def test_circles_without_noise_have_radius_one_and_factor():
    X, y = circles(n=100, noise=0.0, factor=0.3, labels="index")
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0) and np.allclose(r[y == 1], 0.3)


def test_spirals_have_n_classes_of_equal_size():
    X, y = spirals(n=90, n_classes=3, seed=0)
    assert X.shape == (90, 2)
    assert np.bincount(y).tolist() == [30, 30, 30]
    assert np.abs(X).max() <= 1.0 + 1e-12


def test_blobs_cluster_around_their_centres():
    centers = np.array([[5.0, 5.0], [-5.0, -5.0]])
    X, y = blobs(n=50, centers=centers, std=0.1, seed=0)
    assert np.allclose(X[y == 0].mean(axis=0), centers[0], atol=0.1)
    assert np.allclose(X[y == 1].mean(axis=0), centers[1], atol=0.1)


def test_signed_labels_for_more_than_two_classes_is_a_clear_error():
    with pytest.raises(ValueError, match="with 3 classes use labels='index'"):
        spirals(n_classes=3, labels="signed")


@pytest.mark.parametrize("call,pattern", [
    (lambda: moons(labels="onehot"), "unknown labels form 'onehot'"),
    (lambda: moons(n=0), "n must be an int >= 2"),
    (lambda: moons(noise=-0.1), "noise must be >= 0"),
    (lambda: circles(factor=1.5), r"factor .* must be in \(0, 1\)"),
    (lambda: spirals(n_classes=1), "n_classes must be an int >= 2"),
    (lambda: blobs(centers=np.zeros((3, 3))), r"centers must have shape \(k, 2\)"),
])
def test_bad_arguments_are_clear_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
