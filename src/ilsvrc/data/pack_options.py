"""How `ilsvrc data prepare` packs images: the options and their defaults, in one place.

A module of its own, free of heavy imports, so that the command line can show these defaults in
its help without importing the packer.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ilsvrc.errors import ConfigError

STORAGES = ("jpeg", "raw")
ON_BAD_IMAGE = ("fail", "skip")


@dataclass(frozen=True)
class PackOptions:
    shorter_side: int = 256  # encoded storage: resize so the shorter side is this (the paper's 256)
    quality: int = 90  # JPEG quality of re-encoded images
    shard_size: int | None = None  # samples per shard; None: about 100 MB (10000 small, 2000 JPEG, 500 raw)
    workers: int | None = None  # decoding processes; None: all cores
    storage: str = "jpeg"  # large images: "jpeg" (whole image), or "raw" (central square, uint8 pixels)
    on_bad_image: str = "fail"  # an undecodable image stops the job naming it ("fail"), or is left out ("skip")

    def __post_init__(self):
        if self.storage not in STORAGES:
            raise ConfigError(f"--storage must be one of {', '.join(STORAGES)}, got {self.storage!r}")
        if self.shorter_side < 8:
            raise ConfigError(f"--shorter-side must be at least 8, got {self.shorter_side}")
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"--quality must be in 1..100, got {self.quality}")
        if self.shard_size is not None and self.shard_size < 1:
            raise ConfigError(f"--shard-size must be positive, got {self.shard_size}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be positive, got {self.workers}")
        if self.on_bad_image not in ON_BAD_IMAGE:
            raise ConfigError(f"--on-bad-image must be fail or skip, got {self.on_bad_image!r}")

    def recipe(self) -> dict:
        """The options that decide what a packed folder holds (a resumed run must match them): all but the
        number of workers, and on_bad_image only when it skips (a "fail" pack holds every image)."""
        recipe = asdict(self)
        del recipe["workers"]
        if self.on_bad_image == "fail":
            del recipe["on_bad_image"]
        return recipe
