"""Encodings: Fisher vectors against the formula written out, bag of words against a hand count, pyramids."""
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from ilsvrc.baseline.encoding import BagOfWords, FisherVector, Pca, encode_pyramid, power_l2, pyramid_regions


def fisher_vector_by_the_formula(x, weights, means, variances):
    """Sánchez et al. 2013, Eq. (16)-(18), one Gaussian and one descriptor at a time, then power + L2."""
    t_count, (k_count, d_count) = len(x), means.shape
    likelihoods = np.array([[weights[k] * multivariate_normal.pdf(x[t], means[k], np.diag(variances[k]))
                             for k in range(k_count)] for t in range(t_count)])
    gamma = likelihoods / likelihoods.sum(1, keepdims=True)
    g_mu, g_sigma = np.zeros((k_count, d_count)), np.zeros((k_count, d_count))
    for k in range(k_count):
        sigma = np.sqrt(variances[k])
        for t in range(t_count):
            g_mu[k] += gamma[t, k] * (x[t] - means[k]) / sigma
            g_sigma[k] += gamma[t, k] * ((x[t] - means[k]) ** 2 / variances[k] - 1)
        g_mu[k] /= t_count * np.sqrt(weights[k])
        g_sigma[k] /= t_count * np.sqrt(2 * weights[k])
    fv = np.concatenate([g_mu.ravel(), g_sigma.ravel()])
    fv = np.sign(fv) * np.sqrt(np.abs(fv))
    return fv / np.linalg.norm(fv)


@pytest.fixture(scope="module")
def tiny_gmm() -> FisherVector:
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(c, s, (200, 2)) for c, s in (((0, 0), 1), ((5, 1), 0.5), ((1, 6), 2))])
    return FisherVector.fit(points, components=3, seed=0)


def test_fisher_vector_matches_the_formula(tiny_gmm):
    x = np.random.default_rng(1).normal(2, 3, (7, 2))
    expected = fisher_vector_by_the_formula(x, tiny_gmm.weights, tiny_gmm.means, tiny_gmm.variances)
    everywhere = np.zeros((7, 2))  # one pyramid level of one region: the plain improved Fisher vector
    np.testing.assert_allclose(encode_pyramid(tiny_gmm.embed(x), everywhere, (1,)), expected, rtol=1e-5, atol=1e-7)
    assert tiny_gmm.embed(x).shape == (7, 2 * 3 * 2)


def test_fisher_vector_round_trips_through_arrays(tiny_gmm):
    x = np.random.default_rng(2).normal(0, 2, (5, 2))
    restored = FisherVector.from_arrays(tiny_gmm.arrays())
    np.testing.assert_array_equal(restored.gradients(x), tiny_gmm.gradients(x))


def test_bag_of_words_histogram_is_a_hand_count():
    words = BagOfWords(np.array([[0, 0], [10, 0], [0, 10]], np.float32))
    descriptors = np.array([[1, 0], [0, 9], [9, 1], [0, 1], [1, 11], [-1, 8]], np.float32)  # words 0 2 1 0 2 2
    histogram = words.histogram(descriptors)
    np.testing.assert_allclose(histogram, [2 / 6, 1 / 6, 3 / 6])
    assert histogram.sum() == pytest.approx(1)
    encoded = encode_pyramid(words.embed(descriptors), np.zeros((6, 2)), (1,))
    np.testing.assert_allclose(encoded, np.sqrt([2, 1, 3]) / np.sqrt(6), rtol=1e-6)


def test_spatial_pyramid_pools_each_quadrant():
    words = BagOfWords(np.array([[0.0], [10.0]], np.float32))
    descriptors = np.array([[0], [0], [10], [10], [0]], np.float32)
    positions = np.array([[0.1, 0.1], [0.2, 0.3], [0.9, 0.1], [0.6, 0.7], [0.7, 0.8]])  # x, y
    masks = pyramid_regions(positions, (1, 2))
    assert [m.nonzero()[0].tolist() for m in masks] == [[0, 1, 2, 3, 4], [0, 1], [2], [], [3, 4]]
    encoded = encode_pyramid(words.embed(descriptors), positions, (1, 2)).reshape(5, 2)
    np.testing.assert_allclose(encoded, [power_l2(np.array([3, 2]) / 5), [1, 0], [0, 1], [0, 0],
                                         power_l2(np.array([1, 1]) / 2)], rtol=1e-6)


def test_power_l2_keeps_signs_and_unit_norm():
    out = power_l2(np.array([4.0, -9.0, 0.0]))
    np.testing.assert_allclose(out, np.array([2, -3, 0]) / np.sqrt(13))
    np.testing.assert_array_equal(power_l2(np.zeros(3)), np.zeros(3))


def test_pca_projection_matches_scikit_learn():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(3).normal(0, 1, (100, 6)) @ np.random.default_rng(4).normal(0, 1, (6, 6))
    pca = Pca.fit(x.astype(np.float32), dims=3)
    reference = PCA(3, random_state=0).fit(x.astype(np.float32))
    np.testing.assert_allclose(pca.project(x.astype(np.float32)), reference.transform(x.astype(np.float32)),
                               rtol=1e-4, atol=1e-4)
