import numpy as np
import pytest
import torch

from ilsvrc.data.base import Dataset
from ilsvrc.data.loader import EpochBatches, make_loader
from ilsvrc.errors import DataError


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
