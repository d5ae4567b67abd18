"""The public import path of the project's Keras losses: ``from advisor.keras_losses import FocalLoss``.

Printed code and saved models name this module; the losses themselves live in
:mod:`advisor.losses.keras_losses`. Importing it imports Keras.
"""

from advisor.losses.keras_losses import *  # noqa: F401,F403
from advisor.losses.keras_losses import __all__  # noqa: F401
