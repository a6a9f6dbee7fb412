"""The database: SQLite in a temporary folder, brought to the newest schema at start-up."""
import os
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

HERE = Path(__file__).parent
URL = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="corpus-db-"), "app.db")


def migrate():
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", URL)
    command.upgrade(cfg, "head")


engine = create_engine(URL)


def item_names():
    with engine.connect() as c:
        return [row[0] for row in c.execute(text("SELECT name FROM items ORDER BY id"))]
