"""The low-level API: a graph built from channels and nodes (``Pregel``, ``NodeBuilder``).

Example::

    from threadloom.channels import LastValue
    from threadloom.pregel import NodeBuilder, Pregel

    double = NodeBuilder().subscribe_only("n").do(lambda n: 2 * n).write_to("out")
    app = Pregel(
        nodes={"double": double},
        channels={"n": LastValue(int), "out": LastValue(int)},
        input_channels="n",
        output_channels="out",
    )
    assert app.invoke(21) == 42
"""

from threadloom.pregel._node import NodeBuilder, PregelNode
from threadloom.pregel._pregel import Pregel
from threadloom.types import RetryPolicy

__all__ = ["NodeBuilder", "Pregel", "PregelNode", "RetryPolicy"]
