"""The built-in tasks, in the order the config lists them: one line each (the registry
registers them on its first question)."""

from rnncli.tasks import adding, copy_task, lag, lag_noise, multiplication, reber, temporal_order
from rnncli.tasks.text import task as text

TASKS = (
    reber.TASK,
    adding.TASK,
    text.TASK,
    lag.TASK,
    lag_noise.TASK,
    multiplication.TASK,
    temporal_order.TASK,
    temporal_order.TASK_3,
    copy_task.TASK,
)
