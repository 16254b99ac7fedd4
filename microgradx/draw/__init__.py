"""Drawing backpropagation: the forward flow of values and the backward flow of gradients.

* ``options`` -- ``DrawOptions``: a call's options, checked once and passed down frozen
* ``flow``    -- the gradient-flow model: every edge's local derivative, the backward pass replayed
* ``groups``  -- which nodes are which nn neuron and layer (as nn marked them)
* ``collapse``-- the collapsed views' plan: tables of neuron (or layer) rows, and the edges between
* ``scene``   -- what one drawing is made of, worked out once: flow, groups, node ids, plan
* ``cells``   -- the text of boxes and edges: gradient sums, chain-rule labels, collapsed numbers
* ``markup``  -- text as Graphviz takes it: escaped, and cut (visibly) before Graphviz's limits
* ``boxes``, ``tables`` -- value boxes, op nodes and edges; the collapsed tables
* ``style``   -- themes, and a layout direction that fits the graph's shape to a slide
* ``render``  -- DOT to a picture: ``dot``, or Graphviz in WebAssembly in the browser (Pyodide)
* ``dot``     -- ``draw_dot``: a ``graphviz.Digraph`` of the forward or backward view (``highlight=`` a node's
  paths); ``save`` (``width=`` pixels for a PNG)
* ``explain`` -- a gradient written out as the chain rule's sum over paths
* ``slots``, ``animate``, ``player`` -- the backward pass step by step: one drawing per step, and an offline
  HTML player, or one PDF page per step
* ``pdf``     -- joining Graphviz's one-page PDFs into one document (the steps as slides)
"""

from .animate import Animation, animate_backward, animation_html, backward_steps
from .dot import GraphTooLargeError, GraphvizNotFoundError, draw_dot, render_bytes, save, trace
from .explain import explain
from .flow import Flow
from .options import DrawOptions, draw_options
from .style import Theme

__all__ = [
    "draw_dot", "trace", "save", "render_bytes", "explain", "backward_steps", "animate_backward",
    "animation_html", "Animation", "Flow", "GraphTooLargeError", "GraphvizNotFoundError",
    "DrawOptions", "draw_options", "Theme",
]
