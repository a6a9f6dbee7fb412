"""A src-layout backend: started as `python -m inventory` (from src/), no top-level script."""
