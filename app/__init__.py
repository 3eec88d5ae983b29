"""Vivant: a family's photos, gently brought to life."""
