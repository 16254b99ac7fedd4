"""Neural networks on ``Value``: modules, losses, optimizers, toy data sets, training loops and recipes.

``from microgradx.nn import MLP, Neuron, Layer`` is micrograd's ``nn``; the rest grows it up:

* ``modules``   -- ``Module``, ``Neuron``, ``Layer``, ``MLP`` (micrograd's signatures, more options)
* ``losses``    -- mse, bce, bce_with_logits, hinge, softmax cross-entropy, l2
* ``optim``     -- SGD, Adam, AdamW, RMSProp, clipping, learning-rate schedules
* ``data``      -- xor, moons, circles, spirals, blobs: small, seeded, offline
* ``train``     -- ``fit``, ``predict``, ``accuracy``, ``decision_boundary``
* ``recipes``   -- a sensible model, loss and optimizer per toy data set
* ``modelfile`` -- models saved as JSON, read with every check first
"""

from . import data, losses, optim, recipes, train
from .modelfile import ModelFileError
from .modules import ACTIVATIONS, INITS, MLP, Layer, Module, Neuron

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "ModelFileError", "ACTIVATIONS", "INITS",
    "data", "losses", "optim", "train", "recipes",
]
