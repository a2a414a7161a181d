"""indexes the evidence reads need

- billing_events.buyer_invoice_id: the case's billing events are read by an OR of indexed
  lookups (ids, parents, payouts, `invoice_id`, `buyer_invoice_id`); one term without an index
  made the whole query a scan of the feed, once per case.
- metering_results, partial, the records AWS did not accept: found without reading every
  hour of the customer's period.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 20:40:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

NOT_ACCEPTED = "status != 'Success'"


def upgrade() -> None:
    with op.batch_alter_table('billing_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_events_buyer_invoice_id'), ['buyer_invoice_id'], unique=False)
    with op.batch_alter_table('metering_results', schema=None) as batch_op:
        batch_op.create_index('ix_metering_results_not_accepted', ['customer_ref', 'timestamp'], unique=False,
                              sqlite_where=sa.text(NOT_ACCEPTED), postgresql_where=sa.text(NOT_ACCEPTED))


def downgrade() -> None:
    with op.batch_alter_table('metering_results', schema=None) as batch_op:
        batch_op.drop_index('ix_metering_results_not_accepted')
    with op.batch_alter_table('billing_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_events_buyer_invoice_id'))
