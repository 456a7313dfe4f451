"""Experiments run on jaxnets: the demo now, config-driven sweeps later."""
