"""Lets `python -m bench.<name>` import the benchmark modules."""
