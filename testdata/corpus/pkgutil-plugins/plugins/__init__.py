"""Plugins are the modules of this package, found at start-up."""
