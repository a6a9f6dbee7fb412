"""Library code only: no script that starts anything, no package with __main__.py, no
application object. pybundle cannot guess how this backend starts and must say so."""
import config


def process(item):
    return {"item": item, "version": config.VERSION}
