"""Training code (needs torch, the ``[train]`` extra); nothing at run time imports it."""
