"""Shared network parts: layers and likelihoods."""
