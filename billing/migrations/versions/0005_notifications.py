"""the notifications outbox

One message to one webhook per row, written in the same transaction as what it announces and
delivered afterwards with retries (`agent.notifications`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 22:45:00
"""
import sqlalchemy as sa
from alembic import op

import billing.models.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_key', sa.String(length=160), nullable=False),
        sa.Column('url', sa.String(length=512), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('exception_id', sa.Integer(), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', billing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', billing.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', billing.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['exception_id'], ['exceptions.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_key', 'url'),
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_exception_id'), ['exception_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_status'))
        batch_op.drop_index(batch_op.f('ix_notifications_exception_id'))
    op.drop_table('notifications')
