"""Neural networks on ``Value``: modules, losses, optimizers, toy data sets, training loops and recipes.

``from microgradx.nn import MLP, Neuron, Layer`` is micrograd's ``nn``; the rest grows it up:

* ``modules``   -- ``Neuron``, ``Layer``, ``MLP`` (micrograd's signatures, more options)
* ``module``    -- ``Module``, what they share: parameters, names, modes, and files (via ``modelfile``)
* ``args``      -- the argument checks every part of ``nn`` uses, each written once
* ``losses``    -- mse, bce, bce_with_logits, hinge, softmax cross-entropy, l2
* ``optim``     -- SGD, Adam, AdamW, RMSProp, clipping, learning-rate schedules (each on Values or vectors)
* ``data``      -- xor, moons, circles, spirals, blobs: small, seeded, offline
* ``train``     -- ``fit``: batches, stop rules, and the loop over epochs
* ``steps``     -- one training step, eager or compiled, behind one protocol
* ``history``   -- ``History``: what ``fit`` measured per epoch
* ``evaluate``  -- ``predict``, ``accuracy``, ``decision_boundary``, ``grad_norms``
* ``arrays``    -- training data checked on the way in (shapes, finite numbers)
* ``recipes``   -- a sensible model, loss and optimizer per toy data set
* ``modelfile`` -- models saved as JSON, read with every check first
"""

from . import data, evaluate, losses, optim, recipes, steps, train
from .history import History
from .modelfile import ModelFileError
from .modules import ACTIVATIONS, INITS, MLP, Layer, Module, Neuron

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "ModelFileError", "ACTIVATIONS", "INITS", "History",
    "data", "losses", "optim", "train", "steps", "evaluate", "recipes",
]
