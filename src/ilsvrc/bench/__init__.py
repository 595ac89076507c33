"""Benchmarks, each measuring a reference in the same run and reporting the ratio (`ilsvrc bench ...`)."""
