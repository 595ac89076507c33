"""`ilsvrc data info DIR_OR_NAME [--json]`: splits, counts, classes, image sizes and statistics.

For a packed folder everything comes from index.json; any other dataset is opened with its
reader and summarised (image sizes from a sample of images).
"""
from __future__ import annotations

import json

import numpy as np

from ilsvrc.data import available_splits, detect_kind, open_dataset, resolve
from ilsvrc.data.readers import packed

SIZE_SAMPLE = 64  # images opened per split to report sizes of unpacked data


def dataset_info(dataset: str, kind: str | None = None, options: dict | None = None) -> dict:
    """`options`: reader options, as `data prepare --option` takes them (e.g. VOC's year)."""
    path = resolve(dataset)
    kind = kind or detect_kind(path)
    if kind == "packed":
        return _packed_info(path)
    options = options or {}
    info = {"path": str(path), "kind": kind, "splits": {}}
    for split in available_splits(path, kind, **options):
        ds = open_dataset(path, split, kind, **options)
        info["splits"][split] = {"n": len(ds), "classes": len(ds.classes), "image_sizes": _sizes(ds)}
        info.update(classes=list(ds.classes), class_names=list(ds.class_names))
    return info


def _packed_info(path) -> dict:
    index = packed.read_index(path)
    splits = {}
    for name, entry in index["splits"].items():
        ds = packed.PackedDataset(path, name)
        splits[name] = {"n": entry["n"], "classes": entry["classes"], "storage": entry["storage"],
                        "shards": len(entry["shards"]), "image_sizes": _sizes(ds), **entry["stats"],
                        "skipped": entry.get("skipped", [])}
    return {"path": str(path), "kind": "packed", "source": index["recipe"]["source"],
            "source_kind": index["recipe"]["kind"], "splits": splits,
            "classes": index["classes"], "class_names": index["class_names"]}


def _sizes(ds) -> dict:
    """Height/width range over an evenly spaced sample of images (all of them for raw storage)."""
    shape = ds.uniform_shape()
    if shape is not None:
        return {"height": [shape[1], shape[1]], "width": [shape[2], shape[2]], "channels": shape[3]}
    picks = np.unique(np.linspace(0, len(ds) - 1, min(SIZE_SAMPLE, len(ds))).astype(int)) if len(ds) else []
    shapes = np.array([ds.image(int(i)).shape for i in picks]) if len(picks) else np.zeros((0, 3), int)
    if not len(shapes):
        return {}
    return {"height": [int(shapes[:, 0].min()), int(shapes[:, 0].max())],
            "width": [int(shapes[:, 1].min()), int(shapes[:, 1].max())], "channels": int(shapes[0, 2]),
            "sampled": len(shapes)}


def info_command(dataset: str, kind: str | None = None, json: bool = False, option=None) -> int:
    from ilsvrc.data.prepare import parse_options

    info = dataset_info(dataset, kind, parse_options(option))
    if json:
        print(_json_dumps(info))
        return 0
    print(f"{info['path']}  ({info['kind']}{', from ' + info['source'] if 'source' in info else ''})")
    for split, s in info["splits"].items():
        sizes = s.get("image_sizes", {})
        size = (f"{_range(sizes['height'])}x{_range(sizes['width'])}x{sizes['channels']}" if sizes else "-")
        print(f"  {split:<8} {s['n']:>9,} images  {s['classes']:>5} classes  {size}"
              + (f"  {s['storage']} in {s['shards']} shard(s)" if "storage" in s else ""))
        if "mean" in s:
            print(f"           mean {_fmt(s['mean'])}  std {_fmt(s['std'])}  eigvals {_fmt(s['eigvals'])}")
        if s.get("skipped"):
            shown = "; ".join(f"{k['source']} ({k['problem']})" for k in s["skipped"][:3])
            print(f"           {len(s['skipped'])} undecodable image(s) skipped: {shown}"
                  + ("; ..." if len(s["skipped"]) > 3 else ""))
    names = info["class_names"]
    print(f"  classes: {'; '.join(names[:12])}{'; ...' if len(names) > 12 else ''}")
    return 0


def _range(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}-{pair[1]}"


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


def _json_dumps(obj) -> str:
    return json.dumps(obj, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
