"""The task engine: runs compiled pipelines on columnar chunks (see docs/engine.md)."""

import os

# The engine uses numpy for elementwise work only, never BLAS; OpenBLAS would otherwise start a
# worker thread per core whose idle spinning costs CPU beside every task (about 7% of the CPU
# time of benches/bench_engine.py's main line on 2 cores). Set before numpy is first imported; an
# explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
