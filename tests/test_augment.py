import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as tvf

from ilsvrc.data.stats import PixelStats, principal_components, rgb_eigen
from ilsvrc.augment import (CropParams, EvalTransform, HostBatches, Normalization, PcaLighting, RandomCrop, TrainTransform,
                            center_crop, crop, hflip, normalize, pca_lighting,
                            sample_alphas, ten_crop, to_float)
from ilsvrc.data.base import Dataset
from ilsvrc.data.loader import make_loader
from ilsvrc.errors import ConfigError, DataError


def image(h, w, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


# ---- uint8 kernels ----

def test_crop_and_flip_are_views_of_the_right_pixels():
    img = image(10, 12)
    view = crop(img, 2, 3, 5)
    assert np.shares_memory(view, img)
    np.testing.assert_array_equal(view, img[2:7, 3:8])
    flipped = hflip(img)
    assert np.shares_memory(flipped, img)
    np.testing.assert_array_equal(flipped[:, 0], img[:, 11])
    np.testing.assert_array_equal(hflip(flipped), img)


def test_center_crop_rounds_the_offset_down():
    img = image(9, 12)  # margins 4 and 7: offsets 2 and 3
    np.testing.assert_array_equal(center_crop(img, 5), img[2:7, 3:8])
    np.testing.assert_array_equal(center_crop(img, 9), img[:, 1:10])


def test_crops_that_do_not_fit_raise_data_errors():
    with pytest.raises(DataError, match=r"^image: 9x12 pixels is too small for a 10x10 crop$"):
        center_crop(image(9, 12), 10)
    with pytest.raises(DataError, match=r"^image: a 5x5 crop at \(5, 0\) does not fit in 9x12 pixels$"):
        crop(image(9, 12), 5, 0, 5)


def test_ten_crop_geometry():
    img, s = image(8, 11), 5  # centre at (1, 3)
    views = ten_crop(img, s)
    assert views.shape == (10, 5, 5, 3)
    for v, (t, l) in enumerate([(0, 0), (0, 6), (3, 0), (3, 6), (1, 3)]):
        np.testing.assert_array_equal(views[v], img[t:t + s, l:l + s])
        # views 5..9 are crops of the mirrored image
        np.testing.assert_array_equal(views[5 + v], img[:, ::-1][t:t + s, l:l + s])
    np.testing.assert_array_equal(views[5], views[1][:, ::-1])  # mirrored top-left = flipped top-right


def test_ten_crop_of_a_batch_matches_torchvision_and_the_numpy_kernel():
    batch = torch.from_numpy(np.stack([image(12, 16, seed=i) for i in range(3)])).permute(0, 3, 1, 2)
    views = ten_crop(batch, 8)  # even margins: torchvision's centre rounding agrees
    assert views.shape == (3, 10, 3, 8, 8)
    expected = torch.stack(tvf.ten_crop(batch, [8, 8]), dim=1)
    assert torch.equal(views, expected)
    for b in range(3):
        numpy_views = ten_crop(batch[b].permute(1, 2, 0).numpy(), 8)
        assert torch.equal(views[b], torch.from_numpy(numpy_views).permute(0, 3, 1, 2))


# ---- random crops ----

def test_random_crop_takes_the_sampled_window_of_the_central_region():
    img = image(40, 50)
    rc = RandomCrop(24, region=32)
    for seed in range(20):
        params = rc.sample(32, 32, np.random.default_rng(seed))
        out = rc(img, np.random.default_rng(seed))
        expected = img[4:36, 9:41][params.top:params.top + 24, params.left:params.left + 24]
        np.testing.assert_array_equal(out, expected[:, ::-1] if params.flip else expected)
        assert np.shares_memory(out, img)


def test_random_crop_covers_every_offset_and_flips_half_the_time():
    rc = RandomCrop(224, region=256)
    params = [rc.sample(256, 256, np.random.default_rng(seed)) for seed in range(2000)]
    assert {p.top for p in params} == set(range(33)) == {p.left for p in params}
    assert 900 < sum(p.flip for p in params) < 1100


def test_same_seed_same_crop():
    img, rc = image(256, 300), RandomCrop(224)
    a = [rc(img, np.random.default_rng([7, 0, i])) for i in range(5)]
    b = [rc(img, np.random.default_rng([7, 0, i])) for i in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(a[0], x) for x in a[1:])


def test_random_crop_off_takes_the_central_window_every_time():
    img = image(40, 50)
    still = RandomCrop(24, region=32, flip=False, random=False)
    views = [still(img, np.random.default_rng(seed)) for seed in range(10)]
    assert all(np.array_equal(v, img[4:36, 9:41][4:28, 4:28]) for v in views)
    assert {still.window(40, 50, np.random.default_rng(s)) for s in range(10)} == {CropParams(8, 13, False)}
    mirrored = RandomCrop(24, region=32, random=False)  # flips still drawn: the centre or its mirror image
    assert 0 < sum(mirrored.sample(32, 32, np.random.default_rng(s)).flip for s in range(40)) < 40


def test_pad_and_crop_for_small_images():
    img = image(32, 32)
    rc = RandomCrop(32, region=None, pad=4)
    for seed in range(10):
        p = rc.sample(40, 40, np.random.default_rng(seed))
        window = np.pad(img, ((4, 4), (4, 4), (0, 0)))[p.top:p.top + 32, p.left:p.left + 32]
        np.testing.assert_array_equal(rc(img, np.random.default_rng(seed)), window[:, ::-1] if p.flip else window)
    digits = RandomCrop(28, region=None, pad=2, flip=False)
    assert not any(digits.sample(32, 32, np.random.default_rng(s)).flip for s in range(50))
    assert digits(image(28, 28, 1), np.random.default_rng(0)).shape == (28, 28, 1)


def test_random_crop_options_are_checked():
    with pytest.raises(ConfigError, match="crop size 300 is larger than the 256x256 region"):
        RandomCrop(300)
    with pytest.raises(ConfigError, match="crop size must be positive"):
        RandomCrop(0, region=None)
    with pytest.raises(DataError, match="^image: 200x300 pixels is too small for a 256x256 crop$"):
        RandomCrop()(image(200, 300), np.random.default_rng(0))


# ---- pixel statistics ----

def test_pixel_stats_equal_numpy_on_all_pixels():
    batches = [image(6, 5, seed=1)[None], np.stack([image(4, 7, seed=s) for s in (2, 3, 4)])]
    stats = PixelStats()
    for batch in batches:
        stats.update(batch)
    out = stats.finalize()
    pixels = np.concatenate([b.reshape(-1, 3) for b in batches]).astype(np.float64)
    assert out["count"] == len(pixels) == 30 + 84
    np.testing.assert_allclose(out["mean"], pixels.mean(0), rtol=1e-15)
    np.testing.assert_allclose(out["std"], pixels.std(0), rtol=1e-13)
    cov = np.cov(pixels, rowvar=False, bias=True)
    np.testing.assert_allclose(out["cov"], cov, rtol=1e-12)
    vals, vecs = np.linalg.eigh(cov)
    np.testing.assert_allclose(out["eigvals"], vals[::-1], rtol=1e-12)
    np.testing.assert_allclose(np.abs(out["eigvecs"]), np.abs(vecs[:, ::-1]), atol=1e-10)


def test_eigenvectors_are_orthonormal_with_their_largest_component_positive():
    out = rgb_eigen(image(16, 16, seed=s) for s in range(3))
    vecs = out["eigvecs"]
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(out["cov"] @ vecs, vecs * out["eigvals"], atol=1e-9)
    assert all(vecs[np.argmax(np.abs(vecs[:, i])), i] > 0 for i in range(3))
    assert out["eigvals"][0] >= out["eigvals"][1] >= out["eigvals"][2] >= 0
    vals, flipped = principal_components(out["cov"])
    np.testing.assert_array_equal(flipped, vecs)


def test_merged_partial_stats_equal_one_pass_exactly():
    images = [image(9, 7, seed=s) for s in range(6)]
    whole, a, b = PixelStats(), PixelStats(), PixelStats()
    whole.update(np.stack(images))
    a.update(np.stack(images[:2]))
    b.update(np.stack(images[2:]))
    merged = a.merge(b).finalize()
    for key, value in whole.finalize().items():
        np.testing.assert_array_equal(merged[key], value)


def test_constant_images_have_exactly_zero_covariance():
    out = rgb_eigen([np.full((64, 64, 3), 201, np.uint8)] * 3)
    assert (out["cov"] == 0).all() and (out["eigvals"] == 0).all()
    np.testing.assert_array_equal(out["mean"], [201, 201, 201])


def test_grayscale_statistics_are_1x1():
    img = image(5, 6, c=1)
    out = rgb_eigen([img])
    assert out["cov"].shape == out["eigvecs"].shape == (1, 1)
    assert out["eigvecs"][0, 0] == 1.0
    np.testing.assert_allclose(out["eigvals"][0], img.astype(np.float64).var(), rtol=1e-13)


def test_pixel_stats_reject_bad_input():
    stats = PixelStats()
    with pytest.raises(DataError, match=r"^pixel statistics: no pixels were added$"):
        stats.finalize()
    with pytest.raises(DataError, match=r"expected \(N, H, W, C\) uint8 images, got float32 \(1, 2, 2, 3\)"):
        stats.update(np.zeros((1, 2, 2, 3), np.float32))
    stats.update(image(2, 2)[None])
    with pytest.raises(DataError, match="images with 1 channels mixed with 3"):
        stats.update(image(2, 2, c=1)[None])


# ---- float work on batches ----

def uint8_batch(b=2, h=6, w=6, c=3):
    return torch.from_numpy(np.stack([image(h, w, c, seed=i) for i in range(b)]))


def test_to_float_is_channels_last_and_keeps_values():
    batch = uint8_batch()
    x = to_float(batch)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 6, 6)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, batch.permute(0, 3, 1, 2).double().float())
    with pytest.raises(ConfigError, match="unknown batch layout 'NHWC'"):
        to_float(batch, "NHWC")


def test_normalize_per_channel_matches_torchvision():
    batch = uint8_batch()
    mean, std = [120.0, 115.5, 104.0], [58.0, 57.0, 57.5]
    expected = tvf.normalize(batch.permute(0, 3, 1, 2).float(), mean, std)
    torch.testing.assert_close(normalize(batch, mean=mean, std=std), expected, rtol=0, atol=1e-6)
    chw = batch.permute(0, 3, 1, 2).contiguous()
    torch.testing.assert_close(normalize(chw, mean=mean, std=std, layout="BCHW"), expected, rtol=0, atol=1e-6)


def test_normalize_subtracts_the_central_part_of_a_larger_mean_image():
    mean_image = np.random.default_rng(5).uniform(0, 255, (10, 9, 3)).astype(np.float32)
    batch = uint8_batch(h=6, w=6)
    out = normalize(batch, mean_image=mean_image)
    expected = batch.numpy().astype(np.float32) - mean_image[2:8, 1:7]
    np.testing.assert_array_equal(out.permute(0, 2, 3, 1).numpy(), expected)


def test_normalize_rejects_inconsistent_options():
    batch = uint8_batch()
    with pytest.raises(ConfigError, match="either a per-channel mean or a mean image"):
        normalize(batch, mean=[1, 2, 3], mean_image=np.zeros((6, 6, 3)))
    with pytest.raises(ConfigError, match="mean has 1 values for images with 3 channels"):
        normalize(batch, mean=[1.0])
    with pytest.raises(ConfigError, match="a 4x4x3 mean image cannot be subtracted from 6x6x3 images"):
        normalize(batch, mean_image=np.zeros((4, 4, 3)))


def test_pca_lighting_adds_one_colour_per_image_along_the_components():
    eigvals = np.array([400.0, 25.0, 4.0])
    eigvecs = principal_components(np.array([[2.0, 1, 0], [1, 3, 1], [0, 1, 4]]))[1]
    x = to_float(uint8_batch())
    alphas = torch.tensor([[0.1, 0.0, 0.0], [-0.05, 0.2, 0.3]])
    out = pca_lighting(x, eigvals, eigvecs, alphas)
    shift = (out - x).double()
    for b in range(2):
        colour = eigvecs @ (alphas[b].double().numpy() * np.sqrt(eigvals))
        np.testing.assert_allclose(shift[b].numpy(), np.broadcast_to(colour[:, None, None], (3, 6, 6)), atol=1e-4)
    np.testing.assert_allclose(shift[0, :, 0, 0].numpy(), 2.0 * eigvecs[:, 0], atol=1e-5)  # 0.1 * sqrt(400)


def test_pca_lighting_does_not_depend_on_the_pixel_scale():
    eigvals, eigvecs = np.array([900.0, 100.0, 9.0]), np.eye(3)
    x, alphas = to_float(uint8_batch()), sample_alphas(2, generator=torch.Generator().manual_seed(0))
    on_255 = pca_lighting(x, eigvals, eigvecs, alphas)
    on_1 = pca_lighting(x / 255, eigvals / 255 ** 2, eigvecs, alphas)
    torch.testing.assert_close(on_1 * 255, on_255)


def test_alphas_are_seeded_normal_with_the_given_std():
    a = sample_alphas(20000, generator=torch.Generator().manual_seed(3))
    assert a.shape == (20000, 3)
    assert torch.equal(a, sample_alphas(20000, generator=torch.Generator().manual_seed(3)))
    assert abs(a.std().item() - 0.1) < 0.002 and abs(a.mean().item()) < 0.002


def test_grayscale_lighting():
    x = to_float(uint8_batch(c=1))
    out = PcaLighting(np.array([100.0]), np.array([[1.0]]))(x, torch.Generator().manual_seed(0))
    alpha = sample_alphas(2, 1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x + 10 * alpha[:, :, None, None])


# ---- the two pipelines ----

def stats_for(images):
    stats = rgb_eigen(images)
    return {**stats, "mean_image": np.mean(images, axis=0).astype(np.float32)}


def test_train_transform_is_crop_flip_then_lighting_minus_mean_image():
    images = [image(12, 14, seed=s) for s in range(4)]
    stats = stats_for([center_crop(im, 12) for im in images])
    train = TrainTransform(RandomCrop(8, region=12), Normalization(mean_image=stats["mean_image"]),
                           PcaLighting.from_stats(stats))
    crops = [train.sample(im, np.random.default_rng(i)) for i, im in enumerate(images)]
    assert all(c.shape == (8, 8, 3) for c in crops)
    batch = torch.from_numpy(np.stack(crops))
    out = train(batch, torch.Generator().manual_seed(1))
    alphas = sample_alphas(4, generator=torch.Generator().manual_seed(1))
    lit = pca_lighting(to_float(batch), stats["eigvals"], stats["eigvecs"], alphas)
    expected = lit - torch.from_numpy(stats["mean_image"][2:10, 2:10]).permute(2, 0, 1)
    torch.testing.assert_close(out, expected)
    assert out.shape == (4, 3, 8, 8) and out.is_contiguous(memory_format=torch.channels_last)


def test_eval_transform_ten_views_and_centre_view():
    mean_image = np.random.default_rng(0).uniform(0, 255, (12, 12, 3)).astype(np.float32)
    norm = Normalization(mean_image=mean_image)
    images = [image(12, 15, seed=s) for s in range(3)]
    test = EvalTransform(8, region=12, views=10, normalization=norm)
    batch = torch.from_numpy(np.stack([test.sample(im) for im in images]))
    out = test(batch)
    assert out.shape == (3, 10, 3, 8, 8)
    central_mean = torch.from_numpy(mean_image[2:10, 2:10]).permute(2, 0, 1)
    expected = ten_crop(batch.permute(0, 3, 1, 2), 8).float() - central_mean
    torch.testing.assert_close(out, expected)
    centre = EvalTransform(8, region=12, views=1, normalization=norm)(batch)
    assert centre.shape == (3, 1, 3, 8, 8)
    torch.testing.assert_close(centre[:, 0], out[:, 4])
    with pytest.raises(ConfigError, match="test views must be 1 .* or 10"):
        EvalTransform(views=5)


class Squares(Dataset):
    kind, split, classes = "squares", "train", ("a", "b")

    def __len__(self):
        return 6

    def image(self, i):
        return image(20, 24, seed=i)

    def label(self, i):
        return i % 2

    def source(self, i):
        return f"#{i}"


def test_a_seeded_loader_gives_the_same_augmented_batches():
    train = TrainTransform(RandomCrop(12, region=16))

    def epoch():
        loader = make_loader(Squares(), batch_size=3, transform=train.sample, seed=4)
        loader.set_epoch(1)
        return [train(images) for images, _ in loader]

    first, second = epoch(), epoch()
    assert [x.shape for x in first] == [(3, 3, 12, 12)] * 2
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.gpu
def test_batch_work_on_the_device_equals_the_cpu():
    batch = uint8_batch(b=4, h=12, w=12)
    mean_image = np.random.default_rng(0).uniform(0, 255, (12, 12, 3)).astype(np.float32)
    stats = rgb_eigen(batch.numpy())
    alphas = sample_alphas(4, generator=torch.Generator().manual_seed(0))
    for device in ("cpu", "cuda"):
        x = normalize(batch.to(device), mean_image=mean_image)
        lit = pca_lighting(x, stats["eigvals"], stats["eigvecs"], alphas.to(device))
        views = EvalTransform(8, region=None, normalization=Normalization(mean_image=mean_image))(batch.to(device))
        if device == "cpu":
            expected = (x, lit, views)
        else:
            assert x.device.type == "cuda" and x.is_contiguous(memory_format=torch.channels_last)
            for got, want in zip((x, lit, views), expected):
                torch.testing.assert_close(got.cpu(), want)
    generator = torch.Generator("cuda").manual_seed(1)
    drawn = sample_alphas(4, generator=generator, device="cuda")
    assert drawn.device.type == "cuda"
    assert torch.equal(drawn, sample_alphas(4, generator=torch.Generator("cuda").manual_seed(1), device="cuda"))
    train = TrainTransform(RandomCrop(12, region=None), lighting=PcaLighting.from_stats(stats))
    assert train(batch.cuda(), generator).shape == (4, 3, 12, 12)


# ---- crop windows for decoders that crop by themselves; float batches in place ----

def test_window_is_the_crop_in_whole_image_coordinates():
    img, rc = image(40, 50), RandomCrop(24, region=32)
    for seed in range(20):
        w = rc.window(40, 50, np.random.default_rng(seed))
        view = crop(img, w.top, w.left, 24)
        np.testing.assert_array_equal(rc(img, np.random.default_rng(seed)), hflip(view) if w.flip else view)
    assert RandomCrop(8, region=None).window(8, 8, np.random.default_rng(0)).top == 0
    with pytest.raises(ConfigError, match="padded crops exist only as pixels"):
        RandomCrop(32, region=None, pad=4).window(32, 32, np.random.default_rng(0))


def test_to_float_never_shares_memory_with_its_input():
    x = torch.rand(2, 3, 4, 4)
    y = to_float(x, "BCHW")
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()


def test_host_batches_reuse_memory_only_once_nothing_refers_to_it():
    pool = HostBatches(keep=2)
    first = pool.empty((2, 3))
    address = first.data_ptr()
    view = first[1:]
    del first
    second = pool.empty((2, 3))
    assert second.data_ptr() != address  # `view` still refers to the first array
    del view
    assert pool.empty((2, 3)).data_ptr() == address
    other = pool.empty((4,))  # another shape: a new array, the oldest one dropped
    assert len(pool.arrays) == 2 and other.shape == (4,)


def test_in_place_lighting_equals_the_pure_function():
    x = to_float(uint8_batch(b=3))
    stats = rgb_eigen(uint8_batch(b=3).numpy())
    lighting = PcaLighting.from_stats(stats)
    out = lighting(x, torch.Generator().manual_seed(2))
    alphas = sample_alphas(3, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(out, pca_lighting(x, stats["eigvals"], stats["eigvecs"], alphas))
    assert not torch.equal(out, x)  # the input is left as it was
    same = lighting.apply_(x, torch.Generator().manual_seed(2))
    assert same is x and torch.equal(x, out)
