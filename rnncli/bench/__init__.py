"""``rnncli bench``: how fast is forward + backward on this machine?

Times one forward pass and full BPTT with a softmax cross-entropy at every step
(`rnncli.loss_and_grads`, which also returns dx and da0) for each cell at the sizes in
`SIZES`, in float64 and float32, against

* the literal notebook implementation (`rnncli.reference.reference_loss_and_grads`)
  in the same process, and
* PyTorch when it is importable (the optional ``[bench]`` extra): ``nn.RNN`` /
  ``nn.LSTM`` / ``nn.GRU`` (time-major input ``(T, m, n_x)``) + ``nn.Linear`` +
  ``CrossEntropyLoss(reduction="sum") / m``, with ``x.requires_grad`` so that it too
  computes dx. PyTorch's GRU applies the reset gate after the recurrent product; the
  FLOP count is the same.

Method, per size: two warm-up calls per variant (which also size the samples), then
at least `rounds` rounds, and more while the size's time budget (`min_time_s`) lasts.
In each round every NumPy variant (cell x dtype x engine/notebook) takes one sample,
interleaved, in reverse order every other round, then, after a pause of `PAUSE_S`
(OpenBLAS's threads keep spinning for ~0.2 s after a GEMM and would steal a core),
every PyTorch variant, then another pause. A sample is the mean of enough back-to-back
calls to last `min_sample_s`, after one untimed call when a call is shorter than 0.1 s
(the first call after a pause is slow). Reported: the median and interquartile range
of each variant's samples, and each speed-up as the median (and IQR) over rounds of
that round's ratio. Pairing the samples of a round matters on a shared machine, whose
speed drifts over seconds: the drift moves both samples of a round together, while a
ratio of two medians would mix samples from fast and slow spells.

Also reported: the machine's GEMM peak (best of a few square float GEMMs) against the
engine's achieved GEMM rate (`gemm_flops` / median time), the peak memory of one call
(tracemalloc, which sees NumPy's allocations) at the largest size run, and a
``throughput`` field for training throughput that is filled in elsewhere (None here).

``quick`` runs at least 7 rounds with short samples and a 1 s budget per size, and
leaves out ``large`` unless it is asked for by name (the notebook takes over a second
per call there), so it ends in well under a minute.

The modules: `sizes` (the size table, models, FLOP counts, problems), `calls` (the NumPy
variants), `peers` (PyTorch), `timing` (interleaved rounds and statistics), `machine`
(GEMM peak, machine facts), `memory`, `targets`, `run` (`run_bench`) and `tables`
(`render`, `to_markdown`).
"""

from __future__ import annotations

from rnncli.bench.run import run_bench
from rnncli.bench.sizes import CELLS, DTYPES, SIZES, gemm_flops, make_problem
from rnncli.bench.tables import _ms as _ms
from rnncli.bench.tables import _rate as _rate
from rnncli.bench.tables import _share as _share
from rnncli.bench.tables import _x as _x
from rnncli.bench.tables import render, throughput_lines, to_markdown
from rnncli.bench.targets import COMPILED_TINY_MS
from rnncli.bench.timing import _paired_ratio as _paired_ratio
from rnncli.bench.timing import time_size

# Also here, for the tests that check them directly: the cell formatters (_ms, _x, _rate,
# _share) and _paired_ratio.
__all__ = [
    "CELLS",
    "COMPILED_TINY_MS",
    "DTYPES",
    "SIZES",
    "gemm_flops",
    "make_problem",
    "render",
    "run_bench",
    "throughput_lines",
    "time_size",
    "to_markdown",
]
