"""Models used by the notebooks and benchmarks, each usable in three lines without Jupyter."""
