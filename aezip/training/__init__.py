"""Training-time code: the torch models, the training loop, and model cards with their plots.

The only part of aezip that imports torch or matplotlib (the ``[train]`` extra).
"""
