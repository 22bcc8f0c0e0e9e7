"""Sweeps: a grid of ``train`` runs over config keys and replicate seeds, run in parallel.

A sweep is planned, then run::

    plan = plan_sweep(config, flags, ["cell=rnn,lstm", "train.T=50,100"], seeds="0-9")
    result = run_sweep(plan, out=None, workers=None, dask=None)
    render(result, console)

**Grid.** As in Hydra, an override with a comma list (``cell=rnn,lstm``) is a grid axis;
``key=value`` with one value is an ordinary override for every job. A config file may carry
a ``sweep:`` section (``grid``, ``seeds``, ``name``); command-line axes add to or replace its
axes, and a one-value override of a grid key fixes that key. Axes are ordered as in the
config schema, so the order they are typed in does not matter. ``seed`` is not an axis:
replicates come from ``--seeds`` (ranges and lists: ``0-9``, ``0,2,5-7``) or
``sweep.seeds``.

**Seeds.** Every job's seed is passed explicitly. It is derived from the root seed (the
config's ``seed``) and the replicate *label* (the number from ``--seeds``), not the job
index::

    seed = SeedSequence(root_seed, spawn_key=(label,)).generate_state(1, uint32)[0]

i.e. child ``label`` of ``SeedSequence(root_seed).spawn(...)``. Every grid point therefore
sees the same seed for the same replicate -- an rnn and an lstm with replicate 3 get the
same seed, which pairs comparisons across the grid -- and adding axes or seeds never
changes the seeds of existing jobs. ``sweep.json`` records both the label and the seed.

**Jobs.** Each job is an ordinary ``train`` run with a complete run folder
(``config.yaml``, ``overrides.yaml``, ``run.json``, ``task.json``, ``metrics.jsonl``,
``checkpoint.npz``, ``loss.png``, ``samples.txt``) at
``<sweep_dir>/<job-id>/``, where the job id names its grid point and replicate, e.g.
``cell=rnn,train.T=50,rep=3`` (characters outside ``A-Za-z0-9_.,=+-`` become ``_`` and
add a short hash). The sweep folder is ``--out DIR`` or a fresh
``outputs/sweeps/<date>/<time>-<name>/``. A job is :func:`run_job` applied to a
:class:`JobSpec`: a top-level, picklable pure function of (resolved config, seed) that
writes only its own folder and needs nothing from the main process. A worker on another
machine can therefore run it, provided rnncli is installed there and the sweep folder is
a shared path (the same absolute path on every machine): give ``--out`` such a path.

**Executors.** One code path, the ``concurrent.futures`` interface: by default a
``ProcessPoolExecutor`` (``forkserver`` start method where available) with ``os.cpu_count()``
workers; with ``dask=ADDRESS`` the executor of ``distributed.Client(ADDRESS)`` on an existing
scheduler (the optional ``rnncli[dask]`` extra). At most ``workers`` jobs are in flight
(for Dask, by default, the number of worker threads on the cluster when the sweep starts),
so stopping never leaves a queue of submitted jobs behind. Process-pool workers start
fresh interpreters, so a script that calls :func:`run_sweep` must do so under
``if __name__ == "__main__":`` (the ``rnncli`` command is fine); if a worker process dies
(that, or out of memory) the sweep stops with an error and stays resumable.

**Results.** ``sweep.json`` (grid, seeds, base config, every job with its status, seed and
run folder, errors) is written atomically when the sweep starts and again as jobs finish;
``summary.csv`` holds one row per grid point aggregated over seeds (runs, completed,
failed, solved, the task metric's mean, sample standard deviation and median over
completed runs, mean sequences to solve over solved runs, mean training wall time).

**Resume and failures.** Re-running the same sweep into the same folder (same grid, seeds
and base config; anything else is refused) skips jobs whose ``run.json`` says completed. A
job that was interrupted (or killed) with a checkpoint continues from it; any other
unfinished job starts again. A job that raises or diverges is recorded with its error and
the others go on, unless ``fail_fast``. Ctrl-C (or ``fail_fast``) stops submitting, and
writes ``<sweep_dir>/.stop``, which running jobs poll: in a process-pool worker the job
stops as ``train`` does on Ctrl-C (status interrupted, with a checkpoint), in a thread
(Dask) it stops at once. A second Ctrl-C stops waiting. ``sweep.json`` stays consistent
throughout, and the next run picks up where this one stopped. One sweep folder takes one
``rnncli sweep`` at a time.

**Modules.** :mod:`~rnncli.sweep.plan` (grid, seeds, job ids: :func:`plan_sweep`),
:mod:`~rnncli.sweep.job` (:func:`run_job`, submitted to workers by its path
``rnncli.sweep.job.run_job``; the stop file; what a job writes), :mod:`~rnncli.sweep.executors`
(the process pool or Dask executor), :mod:`~rnncli.sweep.runner` (:func:`run_sweep`),
:mod:`~rnncli.sweep.folder` (``sweep.json`` and the resume check),
:mod:`~rnncli.sweep.summary` (``summary.csv``, :class:`SweepResult`, :func:`render`) and
:mod:`~rnncli.sweep.progress` (the reporters, :func:`make_reporter`). This package exports
what its callers use.
"""

from rnncli.sweep.job import STOP_FILE, JobSpec, run_job
from rnncli.sweep.plan import Job, SweepPlan, derive_seed, job_id, plan_or_resume, plan_sweep
from rnncli.sweep.progress import Counts, PlainReporter, RichReporter, SilentReporter, make_reporter
from rnncli.sweep.runner import run_sweep
from rnncli.sweep.summary import SweepResult, render

__all__ = [
    "STOP_FILE",
    "Counts",
    "Job",
    "JobSpec",
    "PlainReporter",
    "RichReporter",
    "SilentReporter",
    "SweepPlan",
    "SweepResult",
    "derive_seed",
    "job_id",
    "make_reporter",
    "plan_or_resume",
    "plan_sweep",
    "render",
    "run_job",
    "run_sweep",
]
