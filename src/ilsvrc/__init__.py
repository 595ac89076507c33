"""ilsvrc: the system that won ILSVRC 2012, and the road that led to it, as working software."""

__version__ = "0.1.0"
