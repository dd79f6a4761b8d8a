"""The graph engine (private): how ``graph.invoke(...)`` runs, in the order a call travels.

- ``_pregel``: :class:`CompiledGraph`, the public ``invoke``/``stream``/``get_state``/
  ``update_state`` methods (and async twins); builds a run and formats its stream.
- ``_runnable``: the LangChain ``Runnable`` base of a compiled graph (``batch``,
  ``with_config``, ``astream_events``, ... come from it) and the ``graph.nodes`` views;
  ``_tracing``: the graph and each node reported to LangChain callbacks as nested runs.
- ``_options``: the keyword options of those methods (LangGraph's), checked once.
- ``_superstep``: the superstep loop, written once as a script of requests: load the
  thread, apply the input, then per step plan, execute, save, apply, stream.
- ``_drivers``: thin loops that carry out those requests, sync (threads) or async (tasks).
- ``_task``: one task written once: the node call, its retries, its branches.
- ``_run``: one run's state (channels, versions, step) and the rules of a step:
  planning tasks from triggers, applying writes together, building checkpoints.
- ``_output``: what a run streams and returns (mixed into ``_run``'s ``Run``).
- ``_results``: what a node's return value means (updates, ``Command``, ``Send``, branches).
- ``_injection``: calling a node with the arguments it asks for by name.
- ``_context``: the running task, reachable from ``interrupt()`` and ``get_config()``.
- ``_messages``: the callback handler behind ``stream_mode="messages"``; ``_events``: the
  ``debug``/``tasks``/``checkpoints`` events.
- ``_checkpoint``: checkpoint ids, task ids and the per-thread channel cache.
- ``_spec``: the compiled structure the builder hands over; ``_constants``: reserved names.

Why a turn costs O(new messages): the messages channel merges by an id index, the
checkpoint of a step carries only the channels it changed (the messages channel as a
``DeltaValue`` of its new writes), and a thread's live channels are kept after a run
and reused when the saver's ``peek_latest`` shows nobody else advanced the thread.
"""
