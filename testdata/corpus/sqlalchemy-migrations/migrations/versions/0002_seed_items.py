"""seed items"""
revision = "0002"
down_revision = "0001"

from alembic import op


def upgrade():
    op.execute("INSERT INTO items (name) VALUES ('gear'), ('spring')")


def downgrade():
    op.execute("DELETE FROM items")
