"""batch claims on open exceptions

Several batch processes share the open exceptions through a lease on each (`agent.claims`):
who holds it (`claimed_by`) and until when (`claim_expires_at`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 22:40:00
"""
import sqlalchemy as sa
from alembic import op

import billing.models.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('claim_expires_at', billing.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exceptions', schema=None) as batch_op:
        batch_op.drop_column('claim_expires_at')
        batch_op.drop_column('claimed_by')
