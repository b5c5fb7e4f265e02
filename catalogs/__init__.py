"""Catalogue loaders, the spatial index and the Sherlock-style classifier."""
