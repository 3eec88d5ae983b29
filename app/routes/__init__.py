"""Thin HTTP layers: they check who asks and call the modules that do the work."""
