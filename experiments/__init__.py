"""Experiments on jaxnets: config-driven sweeps, a resumable results store, reports."""
