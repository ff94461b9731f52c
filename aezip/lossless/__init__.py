"""Lossless and near-lossless pixel coding with a learned causal integer pixel model."""
