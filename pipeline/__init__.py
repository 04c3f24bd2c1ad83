"""Delivery: settings, the per-environment stage, and the self-mutating pipeline."""
