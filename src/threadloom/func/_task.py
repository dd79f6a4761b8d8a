"""``@task``: a function whose calls inside a workflow run as checkpointed child tasks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from threadloom._engine._caching import TASK_NS
from threadloom._engine._calls import call_task
from threadloom._engine._injection import NodeFunc
from threadloom._engine._spec import NodeSpec
from threadloom.errors import GraphBuildError
from threadloom.types import TimeoutPolicy

__all__ = ["TaskFunction", "task"]

F = TypeVar("F", bound=Callable[..., Any])


class TaskFunction(Generic[F]):
    """A function wrapped by :func:`task`: calling it starts it and returns a future.

    Inside an entrypoint (or a graph node), ``fn(...)`` returns at once; call
    ``.result()`` on the future (or ``await`` it in async code). Once it has
    finished, a call is not run again when an interrupted workflow resumes.
    """

    def __init__(
        self,
        func: F,
        *,
        name: str | None = None,
        retry_policy: Any = None,
        cache_policy: Any = None,
        timeout: Any = None,
    ) -> None:
        if not callable(func):
            raise GraphBuildError(f"@task needs a function, got {func!r}")
        self.func = func
        self.name = name or _name_of(func)
        self.retry_policy = retry_policy
        self.cache_policy = cache_policy
        self.timeout = TimeoutPolicy.coerce(timeout)
        node_func = NodeFunc(func, f"task '{self.name}'")
        if self.timeout is not None and not node_func.is_async_only:
            raise GraphBuildError(
                f"task '{self.name}' has a timeout, which is only supported for async nodes "
                "and tasks (a sync function cannot be cancelled)"
            )
        self._node = NodeSpec(
            name=self.name,
            func=node_func,
            retry_policy=retry_policy,
            timeout=self.timeout,
            cache_policy=cache_policy,
        )
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call_task(self._node, self.func, args, kwargs)

    def clear_cache(self, cache: Any) -> None:
        """Forget this task's cached results in ``cache``."""
        cache.clear([(TASK_NS, self.name)])

    async def aclear_cache(self, cache: Any) -> None:
        """Async twin of :meth:`clear_cache`."""
        await cache.aclear([(TASK_NS, self.name)])


def _name_of(func: Any) -> str:
    """A task's default name: the function's, through ``functools.partial`` wrappers."""
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", None) or type(func).__name__


@overload
def task(__func_or_none__: F) -> TaskFunction[F]: ...


@overload
def task(
    __func_or_none__: None = None,
    *,
    name: str | None = None,
    retry_policy: Any = None,
    cache_policy: Any = None,
    timeout: Any = None,
) -> Callable[[F], TaskFunction[F]]: ...


def task(
    __func_or_none__: Any = None,
    *,
    name: str | None = None,
    retry_policy: Any = None,
    cache_policy: Any = None,
    timeout: Any = None,
) -> Any:
    """Make a function a task: ``@task``, ``@task()`` or ``@task(name=..., retry_policy=...)``.

    ``timeout`` (async tasks only) limits each attempt, as for nodes.
    """
    timeout = TimeoutPolicy.coerce(timeout)  # checked when declared, before any function

    def wrap(func: Any) -> TaskFunction[Any]:
        return TaskFunction(
            func, name=name, retry_policy=retry_policy, cache_policy=cache_policy, timeout=timeout
        )

    if __func_or_none__ is not None:
        return wrap(__func_or_none__)
    return wrap
