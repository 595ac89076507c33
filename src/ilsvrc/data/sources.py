"""Named datasets: where they are on this machine, and `ilsvrc data download NAME` to fetch them.

    locate("fashion-mnist")   # the first of $ILSVRC_DATA/NAME, /usr/share/datasets/NAME, ~/.cache/ilsvrc/NAME
                              # that holds the dataset's files; never downloads
    download("cifar10")       # fetch each file (trying mirrors in turn), check its published MD5, unpack archives

A download is written to a hidden temporary file and renamed only once its MD5 matches, and an
archive is unpacked into a hidden staging folder first, so an interrupted download never looks
like a dataset. The checksums are those of the files as published; repackaged copies (Debian's
recompressed Fashion-MNIST) differ byte-wise, which is why `locate` checks names, not digests.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from ilsvrc import progress
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.files import make_output_folder, replace_durably

SYSTEM_DATA = Path("/usr/share/datasets")  # where Debian's dataset-* packages install
CHUNK = 1 << 20
TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str
    urls: tuple[str, ...]  # mirrors, tried in order

    @property
    def is_archive(self) -> bool:
        return self.name.endswith((".tar.gz", ".tgz", ".tar"))


@dataclass(frozen=True)
class Source:
    name: str
    kind: str                             # the reader that opens it
    files: tuple[RemoteFile, ...]
    expected: tuple[tuple[str, ...], ...]  # per needed file, the relative paths that may stand for it

    def missing(self, folder: Path) -> list[str]:
        """The needed files `folder` lacks (by their first name)."""
        return [alts[0] for alts in self.expected if not any((folder / alt).is_file() for alt in alts)]

    def holds(self, folder: Path) -> bool:
        return not self.missing(folder)


def idx_source(name: str, mirrors: tuple[str, ...], md5s: dict[str, str]) -> Source:
    """An IDX dataset of four .gz files; a folder holding them gunzipped counts too."""
    files = tuple(RemoteFile(f, md5, tuple(m + f for m in mirrors)) for f, md5 in md5s.items())
    return Source(name, "idx", files, tuple((f, f.removesuffix(".gz")) for f in md5s))


def cifar_source(name: str, archive: str, md5: str, folder: str, members: tuple[str, ...]) -> Source:
    """A CIFAR archive; `members` are files it unpacks into `folder`."""
    remote = RemoteFile(archive, md5, ("https://www.cs.toronto.edu/~kriz/" + archive,))
    return Source(name, "cifar", (remote,), tuple((f"{folder}/{m}",) for m in members))


MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR10_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")

NAMED: dict[str, Source] = {s.name: s for s in (
    # yann.lecun.com has refused anonymous downloads at times; the PyTorch mirror is tried first.
    idx_source("mnist", ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
               dict(zip(MNIST_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                      "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")))),
    idx_source("fashion-mnist", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
               dict(zip(MNIST_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                      "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")))),
    idx_source("kmnist", ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
               dict(zip(MNIST_FILES, ("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
                                      "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134")))),
    cifar_source("cifar10", "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                 "cifar-10-batches-py", (*CIFAR10_BATCHES, "batches.meta")),
    cifar_source("cifar10-binary", "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530",
                 "cifar-10-batches-bin", (*(b + ".bin" for b in CIFAR10_BATCHES), "batches.meta.txt")),
    cifar_source("cifar100", "cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85",
                 "cifar-100-python", ("train", "test", "meta")),
    cifar_source("cifar100-binary", "cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8",
                 "cifar-100-binary", ("train.bin", "test.bin", "coarse_label_names.txt", "fine_label_names.txt")),
)}


def spec(name: str) -> Source:
    if name not in NAMED:
        raise ConfigError(f"unknown dataset {name!r}; choose one of: {', '.join(NAMED)}")
    return NAMED[name]


def cache_root() -> Path:
    return Path.home() / ".cache" / "ilsvrc"


def default_root() -> Path:
    """Where downloads go: $ILSVRC_DATA if set, else ~/.cache/ilsvrc."""
    env = os.environ.get("ILSVRC_DATA")
    return Path(env) if env else cache_root()


def search_roots() -> list[Path]:
    env = os.environ.get("ILSVRC_DATA")
    return [*([Path(env)] if env else []), SYSTEM_DATA, cache_root()]


def locate(name: str) -> Path:
    """The first folder on the search path that holds the named dataset's files."""
    source = spec(name)
    folders = [root / name for root in search_roots()]
    for folder in folders:
        if source.holds(folder):
            return folder
    raise DataError(name, f"not found (looked in {', '.join(map(str, folders))}); "
                          f"run `ilsvrc data download {name}`")


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_url(url: str, path: Path, md5: str) -> None:
    """Download `url` to `path` through a temporary file that is renamed only if its MD5 is `md5`."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            digest = copy_with_progress(response, out, size, path.name)
        if digest != md5:
            raise DataError(url, f"MD5 {digest} does not match the published {md5}")
        replace_durably(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def copy_with_progress(response, out, size: int | None, label: str) -> str:
    """Copy a stream to a file with a progress bar (rate, ETA); returns the MD5 of what was copied."""
    digest = hashlib.md5(usedforsecurity=False)
    with progress.bar(size, desc=label, unit="B", leave=True, unit_scale=True, unit_divisor=1024) as bar:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def fetch(remote: RemoteFile, folder: Path) -> Path:
    """Download one file, trying each mirror until one gives the published bytes."""
    path = folder / remote.name
    failures = []
    for url in remote.urls:
        try:
            fetch_url(url, path, remote.md5)
            return path
        except DataError as e:
            failures.append(str(e))
        except (OSError, http.client.HTTPException) as e:  # URLError, HTTPError and timeouts are OSErrors
            failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
    raise DataError(path, "download failed: " + "; ".join(failures))


UNSAFE_MEMBER = {
    tarfile.OutsideDestinationError: "would be written outside the target folder",
    tarfile.AbsoluteLinkError: "is a link to an absolute path",
    tarfile.LinkOutsideDestinationError: "is a link pointing outside the target folder",
    tarfile.SpecialFileError: "is a device or pipe",
}


def untar(archive: Path, dest: Path) -> None:
    """tarfile's "data" filter refuses members that would escape `dest`; name the culprit."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as e:
        raise DataError(archive, f"unsafe member {e.tarinfo.name!r}: "
                                 f"{UNSAFE_MEMBER.get(type(e), str(e))}") from None
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise DataError(archive, f"corrupt archive ({e})") from None
    except OSError as e:
        raise DataError(archive, f"cannot extract ({e.strerror or e})") from None


def extract(archive: Path, dest: Path) -> None:
    """Unpack a tar archive into `dest` through a staging folder, so a failure leaves nothing behind."""
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        untar(archive, staging)
        for entry in staging.iterdir():
            target = dest / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download(name: str, root: str | os.PathLike | None = None) -> Path:
    """Fetch, verify and unpack a named dataset into ROOT/NAME; files already verified are kept."""
    source = spec(name)
    folder = make_output_folder((Path(root) if root is not None else default_root()) / name)
    for remote in source.files:
        if remote.is_archive and source.holds(folder):
            continue  # unpacked by an earlier download
        path = folder / remote.name
        if not (path.is_file() and md5_of(path) == remote.md5):
            fetch(remote, folder)
        if remote.is_archive:
            extract(path, folder)
    missing = source.missing(folder)
    if missing:
        raise DataError(folder, f"downloaded, but missing {', '.join(missing)}")
    return folder


def download_command(name: str, root: str | None = None) -> int:
    """`ilsvrc data download NAME [--root DIR]`."""
    folder = download(name, root)
    print(f"{name}: {folder}")
    if folder.parent not in search_roots():
        print(f"  (not on the search path: open it by this path rather than by the name {name!r})")
    return 0
