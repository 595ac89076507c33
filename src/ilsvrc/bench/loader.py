"""`ilsvrc bench loader`: the training input pipeline's throughput vs torchvision's, in one run.

    ilsvrc data synth --out /tmp/synth --classes 10 --train-per-class 300 --val-per-class 10
    ilsvrc data prepare /tmp/synth --out /tmp/synth-raw --storage raw      # or the default JPEG storage
    ilsvrc bench loader --data /tmp/synth-raw --json
    ilsvrc bench loader --data /tmp/synth-raw --profile                    # where the time goes, per image

Ours is the training pipeline itself, `Pipeline.build(...).train_batches(epoch, batch)` with the
paper's data recipe, on the packed data: read (or decode) each stored 256-pixel image, random
224x224 crop and flip in uint8, one batch, then PCA lighting and mean-image subtraction on the
whole batch. The reference is torchvision's: ImageFolder over the original JPEG files, PIL,
RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize, the same batch size and
number of worker processes. Its images come from `--reference-root` (a folder of class folders),
else they are extracted once from the archives the packed data was made from, into
~/.cache/ilsvrc/bench-reference/. Both deliver normalised float batches on the device.

Each repeat runs one epoch of each, interleaved; the clock starts when the first batch arrives
(worker start-up excluded) and images are counted after it; the figures are medians. The main
process runs one torch thread (`--threads`): the workers have the cores. With `--device cuda`
and JPEG storage, ours decodes on the GPU (nvJPEG, through torchvision.io.decode_jpeg).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json as jsonlib
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from ilsvrc.bench.timing import synchronize
from ilsvrc.config import DataConfig, load_config
from ilsvrc.data import open_dataset
from ilsvrc.data.loader import copy_image
from ilsvrc.data.readers.packed import read_index
from ilsvrc.data.packing import ensure_packed
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.engine.devices import pick_device
from ilsvrc.files import write_text_atomic

CROP = 224
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchvision's ImageNet normalisation
MIN_BATCHES = 3  # per epoch: one to start the clock, two or more to time


def paper_data(packed: Path, workers: int, decode: str = "cpu") -> DataConfig:
    """The paper's data recipe (224 crops of the central 256, flips, lighting, mean image) on `packed`."""
    return dataclasses.replace(load_config("paper").data, path=str(packed), workers=workers, decode=decode)


# ---- the two pipelines, as batch iterators ----


def ours(pipe: Pipeline, epoch: int, batch: int) -> Iterator:
    """One epoch of the training path itself: Pipeline.train_batches (JPEG storage decoded on a GPU)."""
    return pipe.train_batches(epoch, batch)


def decode_place(device: torch.device, packed: Path) -> str:
    """data.decode for the benchmark: on a GPU, JPEG storage is decoded there (nvJPEG)."""
    storage = read_index(packed)["splits"]["train"]["storage"]
    return "device" if device.type == "cuda" and storage == "jpeg" else "cpu"


def _storage(pipe: Pipeline) -> str:
    return pipe.dataset(pipe.config.train_split).storage


def reference_loader(root: Path, batch: int, workers: int, device: torch.device) -> torch.utils.data.DataLoader:
    """torchvision's reference training loader, as in its classification recipe."""
    import torchvision
    from torchvision import transforms as T

    transform = T.Compose([T.RandomResizedCrop(CROP), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    if not root.is_dir():
        raise DataError(root, "no such folder (--reference-root takes class folders of JPEG files)")
    try:
        dataset = torchvision.datasets.ImageFolder(str(root), transform)
    except FileNotFoundError:  # no class folders, or no images in them
        raise DataError(root, "holds no class folders of images (--reference-root takes ROOT/CLASS/IMAGE)") from None
    return torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                       pin_memory=device.type == "cuda")


def reference(loader: torch.utils.data.DataLoader, device: torch.device) -> Iterator:
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


# ---- timing ----


def time_batches(batches: Iterable, device: torch.device) -> tuple[int, float]:
    """(images, seconds) of an epoch, counted from the arrival of its first batch to its end."""
    iterator = iter(batches)
    next(iterator)
    synchronize(device)
    start, images = time.perf_counter(), 0
    for x, _ in iterator:
        images += len(x)
    synchronize(device)
    return images, time.perf_counter() - start


@contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(data: str, reference_root: str | None = None, batch: int = 128, workers: int = 2, repeats: int = 3,
        device: str = "auto", threads: int = 1, profile: bool = False) -> dict:
    dev = pick_device(device)
    _check_options(batch, workers, repeats, threads)
    packed = ensure_packed(data)
    pipe = Pipeline.build(paper_data(packed, workers, decode_place(dev, packed)), seed=0, device=dev)
    root = Path(reference_root) if reference_root else reference_tree(packed, pipe.config.train_split)
    ref_loader = reference_loader(root, batch, workers, dev)
    n = len(pipe.dataset(pipe.config.train_split))
    if min(n, len(ref_loader.dataset)) < MIN_BATCHES * batch:
        raise ConfigError(f"{packed}: {n} training images make fewer than {MIN_BATCHES} batches of {batch}; "
                          "use more images or a smaller --batch")
    epochs = {"ours": lambda e: ours(pipe, e, batch), "reference": lambda e: reference(ref_loader, dev)}
    with torch_threads(threads):
        rates = interleaved_epochs(epochs, dev, repeats)
        stages = {"stages_ms_per_image": profile_stages(pipe, root, batch)} if profile else {}
    return {"ours_img_s": rates["ours"], "reference_img_s": rates["reference"],
            "ratio": rates["ours"] / rates["reference"], "batch": batch, "workers": workers, "threads": threads,
            "repeats": repeats, "device": _device_name(dev), "storage": _storage(pipe),
            "decode": "device" if pipe.config.decode == "device" else "workers", "images": n,
            "reference_images": len(ref_loader.dataset), "data": str(packed), "reference_root": str(root), **stages}


def interleaved_epochs(epochs: dict, device: torch.device, repeats: int) -> dict[str, float]:
    """Median images per second of each pipeline; epoch 0 of each is a warm-up (page cache, first decodes)."""
    rates: dict[str, list[float]] = {name: [] for name in epochs}
    for epoch in range(repeats + 1):
        for name, batches in epochs.items():
            images, seconds = time_batches(batches(epoch), device)
            if epoch:
                rates[name].append(images / seconds)
    return {name: statistics.median(values) for name, values in rates.items()}


def _check_options(batch: int, workers: int, repeats: int, threads: int) -> None:
    if batch < 1 or repeats < 1 or threads < 1:
        raise ConfigError("--batch, --repeats and --threads must be positive")
    if workers < 0:
        raise ConfigError(f"--workers must not be negative, got {workers}")


def _device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({os.cpu_count()} cores)"


# ---- where the time goes: each stage alone, in one process ----


def profile_stages(pipe: Pipeline, root: Path, n: int) -> dict[str, dict[str, float]]:
    """Milliseconds per image of each step of both pipelines, over n images, without workers."""
    return {"ours": our_stages(pipe, n), "reference": reference_stages(root, n)}


def _timed(fn, items: list) -> tuple[list, float]:
    """fn over items, and the milliseconds it took per item."""
    start = time.perf_counter()
    out = [fn(item) for item in items]
    return out, (time.perf_counter() - start) * 1e3 / len(items)


def our_stages(pipe: Pipeline, n: int) -> dict[str, float]:
    ds, transform = pipe.dataset(pipe.config.train_split), pipe.train_transform()
    index = list(range(min(n, len(ds))))
    images, read = _timed(ds.image_view, index)
    crops, draw = _timed(lambda i: transform.sample(images[i], np.random.default_rng([0, 0, i])), index)
    batch = np.empty((len(index), *crops[0].shape), np.uint8)
    _, copy = _timed(lambda i: copy_image(batch[i], crops[i]), index)
    x = torch.from_numpy(batch).to(pipe.device)
    generator = torch.Generator(pipe.device).manual_seed(0)

    def batch_work(_):
        transform(x, generator)
        synchronize(pipe.device)

    batch_work(None)  # warm-up: the first float batch maps fresh memory, the next ones reuse it
    _, floats = _timed(batch_work, [None] * 3)
    stored = "decode JPEG" if ds.storage == "jpeg" else "map raw pixels"
    return {stored: read, "draw crop and flip": draw, "copy crop into batch": copy,
            "lighting and mean image (per batch)": floats / len(index)}


def reference_stages(root: Path, n: int) -> dict[str, float]:
    from PIL import Image
    from torchvision import datasets
    from torchvision import transforms as T

    paths = [path for path, _ in datasets.ImageFolder(str(root)).samples[:n]]
    images, read = _timed(lambda p: Image.open(p).convert("RGB"), paths)
    crops, crop = _timed(T.RandomResizedCrop(CROP), images)
    flipped, flip = _timed(T.RandomHorizontalFlip(), crops)
    tensors, to_tensor = _timed(T.ToTensor(), flipped)
    _, normalize = _timed(T.Normalize(MEAN, STD), tensors)
    _, collate = _timed(torch.utils.data.default_collate, [[(t, 0) for t in tensors]])
    return {"decode JPEG (PIL)": read, "RandomResizedCrop": crop, "flip": flip, "ToTensor": to_tensor,
            "Normalize": normalize, "collate (per batch)": collate / len(tensors)}


# ---- the reference's images: the originals of the packed data, as an ImageFolder tree ----


def reference_tree(packed: Path, split: str) -> Path:
    """The source images of a packed split as class folders of files, extracted once into the cache."""
    from ilsvrc.data.sources import cache_root

    recipe = read_index(packed)["recipe"]
    key = jsonlib.dumps([recipe["source"], recipe["kind"], recipe["reader_options"], split], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    root = cache_root() / "bench-reference" / f"{Path(recipe['source']).name}-{split}-{digest}"
    if not (root / DONE).exists():
        ds = open_dataset(recipe["source"], split, recipe["kind"], **recipe["reader_options"])
        extract_tree(ds, root)
    return root


DONE = ".complete"  # written last: a tree without it is partial, and redone


def extract_tree(ds, root: Path) -> None:
    """Write each image's original file to root/<class>/<file name>, as torchvision's ImageFolder reads."""
    if not ds.keeps_files or ds.multilabel:
        raise DataError(root, f"the reference needs the original files of single-label images; {ds.kind} "
                              "data has none: pass --reference-root")
    for i in range(len(ds)):
        path = root / ds.classes[ds.label(i)] / Path(ds.source(i)).name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ds.raw(i))
    written = sum(1 for _ in root.glob("*/*"))
    if written != len(ds):
        raise DataError(root, f"{len(ds)} images but {written} distinct file names: pass --reference-root")
    write_text_atomic(root / DONE, f"{len(ds)}\n")


def loader_command(data: str, reference_root: str | None = None, batch: int = 128, workers: int = 2,
                   repeats: int = 3, device: str = "auto", threads: int = 1, profile: bool = False,
                   json: bool = False) -> int:
    result = run(data, reference_root, batch, workers, repeats, device, threads, profile)
    if json:
        print(jsonlib.dumps(result, indent=1))
        return 0
    print(f"input pipeline, batch {result['batch']}, {result['workers']} workers, {result['device']}")
    print(f"  {_our_label(result):<44} {result['ours_img_s']:>8,.0f} img/s")
    print(f"  {'reference (torchvision, JPEG files, PIL)':<44} {result['reference_img_s']:>8,.0f} img/s")
    print(f"  ratio: {result['ratio']:.2f}x")
    for side, stages in result.get("stages_ms_per_image", {}).items():
        print(f"  {side}, ms per image, one process:")
        for stage, ms in stages.items():
            print(f"    {stage:<40} {ms:7.3f}")
    return 0


def _our_label(result: dict) -> str:
    if result["storage"] == "raw":
        return "ours (raw pixels, cropped in the workers)"
    return f"ours (JPEG, decoded {'on the GPU' if result['decode'] == 'device' else 'in the workers'})"
