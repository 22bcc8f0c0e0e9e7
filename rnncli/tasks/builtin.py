"""The built-in tasks, registered in the order the config lists them: one line each."""

from rnncli.tasks import adding, copy_task, lag, lag_noise, multiplication, reber, temporal_order
from rnncli.tasks.registry import register
from rnncli.tasks.text import task as text

register(reber.TASK)
register(adding.TASK)
register(text.TASK)
register(lag.TASK)
register(lag_noise.TASK)
register(multiplication.TASK)
register(temporal_order.TASK)
register(temporal_order.TASK_3)
register(copy_task.TASK)
