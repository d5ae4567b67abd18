"""Stage 3, the validator: plans and runs seeded Keras trials on held-out folds and decides, with
intervals, whether another loss beats the baseline. Only the trials import TensorFlow."""
