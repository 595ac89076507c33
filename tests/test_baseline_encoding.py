"""Encodings: Fisher vectors against the formula written out and scikit-image's, bag of words against a hand
count, pyramids."""
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
    np.testing.assert_allclose(encode_pyramid(tiny_gmm, x, everywhere, (1,)), expected, rtol=1e-5, atol=1e-7)
    assert tiny_gmm.gradients(x).shape == (2 * 3 * 2,)


@pytest.fixture(scope="module")
def random_gmm() -> FisherVector:
    """Eight Gaussians in five dimensions, spread and shaped at random (no fitting)."""
    rng = np.random.default_rng(10)
    weights = rng.uniform(0.2, 1, 8)
    return FisherVector(weights / weights.sum(), rng.normal(0, 3, (8, 5)), rng.uniform(0.5, 4, (8, 5)))


def test_sufficient_statistics_equal_the_formula_on_random_data(random_gmm):
    x = np.random.default_rng(11).normal(0, 3, (40, 5))
    expected = fisher_vector_by_the_formula(x, random_gmm.weights, random_gmm.means, random_gmm.variances)
    np.testing.assert_allclose(power_l2(random_gmm.gradients(x)), expected, rtol=1e-6, atol=1e-9)
    # float32 descriptors, as the extractor gives them: the same vector to float32's precision
    np.testing.assert_allclose(power_l2(random_gmm.gradients(x.astype(np.float32))), expected, atol=2e-5)


def test_each_pyramid_region_is_the_formula_on_its_own_descriptors(random_gmm):
    rng = np.random.default_rng(12)
    x = rng.normal(0, 3, (60, 5))
    positions = rng.uniform(0, 1, (60, 2))  # x, y
    masks = pyramid_regions(positions, (1, 2))
    assert len(masks) == 5 and all(m.sum() >= 5 for m in masks)  # no empty region (the formula divides by T)
    expected = [fisher_vector_by_the_formula(x[m], random_gmm.weights, random_gmm.means, random_gmm.variances)
                for m in masks]
    encoded = encode_pyramid(random_gmm, x, positions, (1, 2))
    assert encoded.shape == (5 * 2 * 8 * 5,) and encoded.dtype == np.float32
    np.testing.assert_allclose(encoded, np.concatenate(expected), rtol=1e-5, atol=1e-6)


def test_empty_region_encodes_as_zeros(random_gmm):
    x = np.random.default_rng(13).normal(0, 3, (4, 5))
    left = np.array([[0.1, 0.2], [0.2, 0.3], [0.3, 0.9], [0.4, 0.6]])  # the right half holds nothing
    encoded = encode_pyramid(random_gmm, x, left, (1, 2)).reshape(5, -1)
    assert not encoded[[2, 4]].any() and encoded[[0, 1, 3]].any(axis=1).all()


def test_means_and_variances_gradients_equal_scikit_images_fisher_vector():
    """An independent implementation: skimage.feature.fisher_vector over a fitted sklearn GaussianMixture.

    Its conventions differ from Sánchez et al.'s in three ways, undone here: it puts the K weight
    gradients first ([G_alpha (K), G_mu (K D), G_sigma (K D)]); its sigma gradient has the opposite sign
    (it differentiates with respect to the precision, not the standard deviation); and improved=False
    skips the power and L2 normalisation (applied to its whole vector, weights included, otherwise).
    The mean and variance parts, normalised by 1 / (T sqrt(w)) and 1 / (T sqrt(2 w)), then agree.
    """
    from skimage.feature import fisher_vector
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(14)
    points = np.concatenate([rng.normal(c, s, (150, 3)) for c, s in ((0, 1), (4, 0.5), (-3, 2), (2, 1.5))])
    gmm = GaussianMixture(4, covariance_type="diag", random_state=0).fit(points)
    ours = FisherVector(gmm.weights_, gmm.means_, gmm.covariances_)
    x = rng.normal(1, 3, (25, 3))
    reference = fisher_vector(x, gmm, improved=False)
    k_count, size = 4, 4 * 3
    assert reference.shape == (k_count + 2 * size,)
    g_mu, g_sigma = ours.gradients(x)[:size], ours.gradients(x)[size:]
    np.testing.assert_allclose(g_mu, reference[k_count:k_count + size], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(g_sigma, -reference[k_count + size:], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.assign(x), gmm.predict_proba(x), rtol=1e-7, atol=1e-12)


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
    encoded = encode_pyramid(words, descriptors, np.zeros((6, 2)), (1,))
    np.testing.assert_allclose(encoded, np.sqrt([2, 1, 3]) / np.sqrt(6), rtol=1e-6)


def test_spatial_pyramid_pools_each_quadrant():
    words = BagOfWords(np.array([[0.0], [10.0]], np.float32))
    descriptors = np.array([[0], [0], [10], [10], [0]], np.float32)
    positions = np.array([[0.1, 0.1], [0.2, 0.3], [0.9, 0.1], [0.6, 0.7], [0.7, 0.8]])  # x, y
    masks = pyramid_regions(positions, (1, 2))
    assert [m.nonzero()[0].tolist() for m in masks] == [[0, 1, 2, 3, 4], [0, 1], [2], [], [3, 4]]
    encoded = encode_pyramid(words, descriptors, positions, (1, 2)).reshape(5, 2)
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
