"""Remaining useful life: regime normalization, window features, tree ensembles with intervals."""
