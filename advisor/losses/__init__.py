"""The losses: the catalogue (the one owner of each loss's behaviour), the project's own Keras
losses, the Keras semantics self-check, the training protocol and the printed code.

Importing the package imports no TensorFlow; building a loss does.
"""
