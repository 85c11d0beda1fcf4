"""Window features: time-domain statistics over the last cycles or seconds of a signal."""
