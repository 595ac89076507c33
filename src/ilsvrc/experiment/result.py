"""An experiment's record: result.json (format + version), the printed table, and the comparisons' verdicts.

    result = build_result(context, figures, seconds)
    write_result(out, result)          # result.json, atomically
    print(format_table(result))
    read_result(folder)                # back, checked (`ilsvrc report` reads it)
"""
from __future__ import annotations

import datetime
import math
import os
import platform
from pathlib import Path

import torch

from ilsvrc import __version__
from ilsvrc.engine.devices import pick_device
from ilsvrc.experiment.registry import Experiment
from ilsvrc.experiment.verdict import difference, mean_std, verdict
from ilsvrc.files import read_json_record, write_json_atomic

FORMAT, VERSION = "ilsvrc-experiment", 1
RECORD = "result.json"
FIGURE = "figure.png"


def machine(device: str) -> dict:
    """Where the figures were measured: they mean little without it."""
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "ilsvrc": __version__, "device": f"{pick_device(device)} ({device})",
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def arm_record(experiment: Experiment, name: str, runs: list[dict], paper: bool = False) -> dict:
    arm = experiment.arm(name)
    values = [r[experiment.quantity.key] for r in runs]
    mean, std = mean_std(values)
    return {"name": name, "label": arm.label, "overrides": list(arm.overrides_at(paper)), "reuses": arm.reuse,
            "values": values, "mean": mean, "std": std, "n": len(values), "runs": runs}


def comparison_record(experiment: Experiment, arms: dict[str, dict], comparison) -> dict:
    arm, control = arms[comparison.arm], arms[comparison.control]
    diff, se = difference(arm["values"], control["values"], experiment.paired)
    paper = comparison.paper
    return {"arm": comparison.arm, "control": comparison.control, "diff": diff, "se": se,
            "paired": experiment.paired, "verdict": verdict(diff, se, paper.sign),
            "paper": {"figure": paper.figure, "effect": paper.effect, "sign": paper.sign, "source": paper.source}}


def build_result(context, figures: dict[str, list[dict]], seconds: float, notes: list[str] | None = None) -> dict:
    e, b = context.experiment, context.budget
    arms = {name: arm_record(e, name, runs, context.paper) for name, runs in figures.items()}
    comparisons = [comparison_record(e, arms, c) for c in e.comparisons]
    return _finite({"format": FORMAT, "version": VERSION, "name": e.name, "claim": e.claim, "question": e.question,
            "quick": context.quick, "data": context.data, "seeds": context.seeds,
            "scale": "paper" if context.paper else "small", "subject": context.subject if e.needs_data else None,
            "budget": {"train_images": b.train_images, "test_images": b.test_images, "epochs": b.epochs,
                       "preset": context.preset, "base_overrides": list(e.base) + list(context.overrides),
                       **e.settings(context.quick, context.paper)},
            "cost": context.cost,
            "quantity": {"key": e.quantity.key, "label": e.quantity.label, "unit": e.quantity.unit},
            "arms": list(arms.values()), "comparisons": comparisons, "verdict": comparisons[0]["verdict"],
            "notes": notes or [], "machine": machine(context.device) | {"load_average_start": context.load_at_start},
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(seconds, 1)})


def _finite(value):
    """NaN (a spread of one seed, an arm not measured) as null: result.json stays strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_result(out: Path, result: dict) -> None:
    write_json_atomic(Path(out) / RECORD, result)


def read_result(folder: str | os.PathLike) -> dict:
    return read_json_record(Path(folder) / RECORD, FORMAT, "experiment record",
                            "not a folder written by `ilsvrc experiment`")


def show(value: float | None, unit: str, signed: bool = False, difference: bool = False) -> str:
    """A figure in its unit: errors in percent (in points for differences, `signed` or `difference`),
    others as numbers."""
    if value is None:  # not measured, or no spread (one seed)
        return "-"
    sign = "+" if signed else ""
    if unit == "error":
        return f"{value * 100:{sign}.2f}" + ("" if signed or difference else "%")
    return f"{value:{sign}.3g}"


def format_table(result: dict) -> str:
    unit = result["quantity"]["unit"]
    quick = " [QUICK: small budget, figures indicative only]" if result["quick"] else ""
    lines = [f"{result['name']}: {result['claim']}{quick}",
             f"  {result['quantity']['label']} over seeds {result['seeds']} (mean +- std)"]
    for arm in result["arms"]:
        lines.append(f"    {arm['label']:<28} {show(arm['mean'], unit):>9} +- {show(arm['std'], unit, False):<7}"
                     f" n={arm['n']}")
    for c in result["comparisons"]:
        points = " points" if unit == "error" else ""
        paper = c["paper"]
        lines.append(f"  {c['arm']} - {c['control']}: {show(c['diff'], unit, True)}{points}"
                     f" (se {show(c['se'], unit, difference=True)}) -> {c['verdict'].upper()}")
        lines.append(f"    paper: {paper['figure']} [{paper['source']}]")
    for note in result.get("notes", []):
        lines.append(f"  note: {note}")
    if result.get("cost"):
        lines.append(f"  {result['cost']['line']}")
    m = result["machine"]
    lines.append(f"  {result['wall_seconds']:.0f} s on {m['cpu']}, {m['cores']} cores ({m['device']}), "
                 f"load average {m['load_average_start'][0]} at the start, {m['load_average'][0]} at the end")
    return "\n".join(lines)
