"""The training tasks: the embedded Reber grammar, the adding problem, character-level
text, and the long-time-lag battery of Hochreiter & Schmidhuber (1997) plus the copy task.

One module per task (``text`` is a package; ``temporal_order`` holds two tasks) holds its
generator, its `problem.Problem` (batches, loss, evaluation, criterion), its defaults and
its `registry.TaskSpec`; `builtin` registers them, `registry` answers for them. The
generators are pure NumPy; all randomness comes from a passed-in ``np.random.Generator``.
Arrays use the notebook layout ``x: (n_x, m, T_x)`` (features, batch, time).

Nothing is imported here, so that ``rnncli.tasks.registry`` stays light.
"""
