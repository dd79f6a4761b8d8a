"""The functional API: write a workflow as a plain function (``@entrypoint``) calling ``@task``\\ s.

Example::

    from threadloom.func import entrypoint, task

    @task
    def double(x: int) -> int:
        return 2 * x

    @entrypoint()
    def workflow(numbers: list[int]) -> int:
        return sum(f.result() for f in [double(n) for n in numbers])

    assert workflow.invoke([1, 2, 3]) == 12
"""

from threadloom.func._entrypoint import entrypoint
from threadloom.func._task import task

__all__ = ["entrypoint", "task"]
