"""Kinds of crowd the simulator makes: named presets, and the options that shape a crowd.

    kind = crowd_type("realistic")                       # the default: what a real job looks like
    kind = crowd_type("classic", activity=1.0)           # a preset with one option changed

Options (docs/labelling.md gives the literature behind each):
- mix: fractions of good, sloppy, random and always-yes workers (see ilsvrc.label.crowd);
- activity: Zipf exponent of how many questions each worker answers (0: all alike; 1: the r-th most
  active worker answers in proportion to 1/r, so a few answer thousands and most a handful);
- difficulty: fraction of ambiguous questions, each with an item hardness uniform in [0.5, 1]
  (at 1 even a perfect worker flips a coin);
- multilabel: fraction of a yes/no pool's impostors that truly show the asked class too (the image
  holds two objects), so "is this an X?" is yes for several X;
- unsure: chance an honest worker answers "unsure" on an easy question, rising to 4x on the hardest.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ilsvrc.errors import ConfigError
from ilsvrc.label.crowd import DEFAULT_MIX, parse_mix

MAX_ACTIVITY = 2.0  # steeper than this, one worker would have to answer most questions


@dataclass(frozen=True)
class CrowdType:
    mix: dict = field(default_factory=lambda: parse_mix(DEFAULT_MIX))
    activity: float = 0.0
    difficulty: float = 0.0
    multilabel: float = 0.0
    unsure: float = 0.0

    def __post_init__(self):
        if not 0 <= self.activity <= MAX_ACTIVITY:
            raise ConfigError(f"--activity must be in [0, {MAX_ACTIVITY:g}] (a Zipf exponent), got {self.activity:g}")
        for name in ("difficulty", "multilabel", "unsure"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"--{name} must be in [0, 1), got {value:g}")

    def describe(self) -> str:
        mix = ",".join(f"{kind}={share:.2f}" for kind, share in self.mix.items())
        return (f"mix {mix}; activity {self.activity:g}; difficulty {self.difficulty:g}; "
                f"multilabel {self.multilabel:g}; unsure {self.unsure:g}")


PRESETS = {
    # mostly competent workers, a minority of spammers, long-tailed activity, some ambiguity
    "realistic": CrowdType(parse_mix("good=0.8,sloppy=0.12,random=0.05,always-yes=0.03"),
                           activity=1.0, difficulty=0.1, multilabel=0.05, unsure=0.05),
    "classic": CrowdType(),  # the simulator's crowd before these options: every worker alike busy
    "spammy": CrowdType(parse_mix("good=0.5,sloppy=0.2,random=0.15,always-yes=0.15")),
    "long-tail": CrowdType(activity=1.0),
    "ambiguous": CrowdType(difficulty=0.3, multilabel=0.1, unsure=0.05),
}
DEFAULT_PRESET = "realistic"


def crowd_type(preset: str = DEFAULT_PRESET, mix: str | None = None, job: str = "yesno", **options) -> CrowdType:
    """A preset, with any option given (not None) replacing the preset's. A multi-class job turns off the
    preset's yes/no-only parts (multilabel, unsure); giving them explicitly is an error there."""
    if preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    changed = {name: value for name, value in options.items() if value is not None}
    if mix is not None:
        changed["mix"] = parse_mix(mix)
    base = PRESETS[preset] if job == "yesno" else yesno_parts_off(PRESETS[preset])
    return replace(base, **changed)


def yesno_parts_off(kind: CrowdType) -> CrowdType:
    return replace(kind, multilabel=0.0, unsure=0.0)
