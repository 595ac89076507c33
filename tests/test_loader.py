import numpy as np
import pytest
import torch

from ilsvrc.data.base import Dataset
from ilsvrc.data.loader import EpochBatches, copy_image, decode_crops, make_jpeg_loader, make_loader
from ilsvrc.errors import ConfigError, DataError

# torchvision 0.29 deprecates its image decoders for TorchCodec; nvJPEG batches still go through it
TORCHVISION_DECODERS = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


class Tiny(Dataset):
    kind, split = "tiny", "train"
    classes = class_names = ["a", "b", "c"]

    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def image(self, i):
        return np.full((6, 6, 1), i, np.uint8)

    def label(self, i):
        return i % 3

    def source(self, i):
        return f"#{i}"


def random_crop(image, rng):
    top, left = rng.integers(0, 3, 2)
    return image[top:top + 4, left:left + 4] + np.uint8(rng.integers(0, 2))


def _epoch(loader, epoch):
    loader.set_epoch(epoch)
    return [(x.clone(), y.clone()) for x, y in loader]


def test_batches_are_uint8_with_labels():
    loader = make_loader(Tiny(), batch_size=8, shuffle=False)
    (x, y), *_ = list(loader)
    assert x.dtype == torch.uint8 and x.shape == (8, 6, 6, 1)
    assert y.tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert len(loader) == 3


def test_same_seed_same_order_and_augmentation_whatever_the_workers():
    a = _epoch(make_loader(Tiny(), 5, transform=random_crop, seed=7, num_workers=0), 3)
    b = _epoch(make_loader(Tiny(), 5, transform=random_crop, seed=7, num_workers=2), 3)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    c = _epoch(make_loader(Tiny(), 5, transform=random_crop, seed=8), 3)
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


def test_epochs_differ():
    loader = make_loader(Tiny(), 23, seed=0)
    first, second = _epoch(loader, 0)[0][0], _epoch(loader, 1)[0][0]
    assert sorted(first[:, 0, 0, 0].tolist()) == sorted(second[:, 0, 0, 0].tolist()) == list(range(23))
    assert not torch.equal(first, second)


@pytest.mark.parametrize("world", [2, 3, 4])
def test_ranks_get_disjoint_equal_parts_of_each_epoch(world):
    parts = [EpochBatches(23, 4, seed=1, rank=r, world_size=world) for r in range(world)]
    for p in parts:
        p.set_epoch(5)
    shares = [p.indices() for p in parts]
    assert len({len(s) for s in shares}) == 1
    union = np.concatenate(shares)
    assert len(set(union.tolist())) == len(union) == 23 - 23 % world


def test_evaluation_split_covers_every_sample_once():
    shares = [EpochBatches(23, 4, shuffle=False, rank=r, world_size=3).indices() for r in range(3)]
    assert sorted(np.concatenate(shares).tolist()) == list(range(23))


def test_images_of_different_sizes_need_a_crop():
    class Ragged(Tiny):
        def image(self, i):
            return np.zeros((4 + i, 4, 1), np.uint8)

    with pytest.raises(DataError, match="different sizes"):
        next(iter(make_loader(Ragged(), 4, shuffle=False)))


# ---- the batch: one copy, straight into shared memory ----

@pytest.mark.parametrize("channels", [1, 3, 4])
def test_copy_image_of_mirrored_views_equals_numpy(channels):
    image = np.random.default_rng(channels).integers(0, 256, (9, 11, channels), dtype=np.uint8)
    out = np.zeros((2, 5, 6, channels), np.uint8)
    view = image[2:7, 3:9][:, ::-1]
    copy_image(out[1], view)
    np.testing.assert_array_equal(out[1], view)
    assert not out[0].any()
    copy_image(out[0], image[:5, :6])
    np.testing.assert_array_equal(out[0], image[:5, :6])


def test_batches_from_workers_arrive_in_shared_memory():
    x, _ = next(iter(make_loader(Tiny(), 4, transform=random_crop, num_workers=1)))
    assert x.is_shared() and x.shape == (4, 4, 4, 1)
    x, _ = next(iter(make_loader(Tiny(), 4, transform=random_crop, num_workers=0)))
    assert not x.is_shared()


@pytest.fixture(scope="module")
def packed_photos(tmp_path_factory):
    from PIL import Image

    from ilsvrc.data.prepare import PackOptions, prepare

    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog"]):
        (root / "tree" / name).mkdir(parents=True)
        for k in range(4):
            pixels = rng.integers(0, 256, (40 + 5 * k, 50, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "tree" / name / f"{k}.png")
    for storage in ("jpeg", "raw"):
        prepare(root / "tree", root / storage, options=PackOptions(shorter_side=36, storage=storage, workers=1))
    return root


@pytest.mark.parametrize("storage", ["jpeg", "raw"])
def test_packed_batches_are_the_crops_of_the_stored_images(packed_photos, storage):
    from ilsvrc.augment import RandomCrop
    from ilsvrc.data.readers.packed import PackedDataset

    ds = PackedDataset(packed_photos / storage, "train")
    crop = RandomCrop(24, region=32)
    loader = make_loader(ds, 3, crop, seed=2, num_workers=1)
    loader.set_epoch(4)
    keys = [key for batch in loader.sampler for key in batch]
    images = torch.cat([x for x, _ in loader])
    expected = [crop(ds.image(i), np.random.default_rng([2, epoch, i])) for i, epoch in keys]
    np.testing.assert_array_equal(images.numpy(), np.stack(expected))


@TORCHVISION_DECODERS
def test_jpeg_batches_carry_the_files_and_the_crop_windows(packed_photos):
    from ilsvrc.augment import RandomCrop
    from ilsvrc.data.readers.packed import PackedDataset

    ds = PackedDataset(packed_photos / "jpeg", "train")
    crop = RandomCrop(24, region=32)
    loader = make_jpeg_loader(ds, 4, crop, seed=1, shuffle=False)
    batch = next(iter(loader))
    assert batch.lengths == [len(ds.encoded(i)) for i in range(4)]
    assert bytes(batch.data.numpy()) == b"".join(ds.encoded(i) for i in range(4))
    for i, (top, left, mirrored) in enumerate(batch.windows.tolist()):
        w = crop.window(*ds.image(i).shape[:2], np.random.default_rng([1, 0, i]))
        assert (top, left, bool(mirrored)) == (w.top, w.left, w.flip)
    assert batch.labels.tolist() == [ds.label(i) for i in range(4)]
    decoded = decode_crops(batch, 24, torch.device("cpu"))
    expected = np.stack([crop(ds.image(i), np.random.default_rng([1, 0, i])) for i in range(4)])
    np.testing.assert_array_equal(decoded.numpy(), expected)
    with pytest.raises(ConfigError, match="decoding on the device needs JPEG storage"):
        make_jpeg_loader(PackedDataset(packed_photos / "raw", "train"), 4, crop)
