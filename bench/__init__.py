"""Benchmarks of SSCN against the paper's Table 1 and against N.

    python -m bench.table1     # Table 1 side by side (SSCN, DSC-Net, k-means / spectral / EDSC on AE features)
    python -m bench.scaling    # time and peak memory against N, JSON + PNG
    python -m bench.report     # the results in bench/results/ as Markdown

Every model fit runs in a fresh worker process (``bench.common.run_isolated``), so that the peak
memory of one case does not leak into the next.
"""
