"""Training code for aezip models (needs torch, the [train] extra)."""
