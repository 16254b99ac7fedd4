"""Drawing backpropagation: the forward flow of values and the backward flow of gradients.

* ``flow``    -- the gradient-flow model: every edge's local derivative, the backward pass replayed
* ``groups``  -- which nodes are which nn neuron and layer (as nn marked them)
* ``cells``   -- the text of boxes and edges: gradient sums, chain-rule labels, collapsed numbers
* ``style``   -- themes, and a layout direction that fits the graph's shape to a slide
* ``dot``     -- ``draw_dot``: a ``graphviz.Digraph`` of the forward or backward view; ``save``
* ``explain`` -- a gradient written out as the chain rule's sum over paths
* ``animate`` -- the backward pass step by step: one drawing per step, and an offline HTML player
"""

from .animate import animate_backward, animation_html, backward_steps
from .dot import GraphTooLargeError, GraphvizNotFoundError, draw_dot, render_bytes, save, trace
from .explain import explain
from .flow import Flow

__all__ = [
    "draw_dot", "trace", "save", "render_bytes", "explain", "backward_steps", "animate_backward",
    "animation_html", "Flow", "GraphTooLargeError", "GraphvizNotFoundError",
]
