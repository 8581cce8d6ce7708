"""Performance benchmarks of the Internal Assessment Portal (QUALITY P-1..P-5).

`bench/run.py` is the single entry point; see bench/README.md.
"""
