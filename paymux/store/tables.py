"""Every table of paymux. All dialects share them; a dialect's own data lives in `extra`.

Amounts are BigInteger minor units. Timestamps are naive UTC datetimes, so
SQLite and PostgreSQL compare them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite rowid aliases need INTEGER

merchants = Table(
    "merchants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("fee_rate_bp", Integer, nullable=False, default=0),
    Column("ip_allowlist", Text, nullable=False, default=""),
    Column("rate_limit_per_s", Integer, nullable=False, default=0),
    Column("timestamp_window_s", Integer, nullable=False, default=300),
    Column("notify_url", String(512), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Index("ix_merchants_name", "name"),
)

# One row per (dialect, key id); a rotated secret keeps its old row with
# `valid_until` set, so both work during the grace period.
credentials = Table(
    "credentials",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("dialect", String(16), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("secret_enc", Text, nullable=False),
    Column("valid_until", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_credentials_lookup", "dialect", "key_id"),
    Index("ix_credentials_merchant", "merchant_id", "dialect"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_type", String(16), nullable=False),  # merchant | user | platform | sandbox
    Column("owner_id", String(64), nullable=False, default=""),
    Column("kind", String(16), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("balance", BigInteger, nullable=False, default=0),
    Column("frozen", BigInteger, nullable=False, default=0),
    Column("allow_negative", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_accounts_owner", "owner_type", "owner_id", "kind", "currency"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("type", String(16), nullable=False),
    Column("order_no", String(32), nullable=True),
    Column("ref", String(64), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("entry_id", ID, ForeignKey("journal_entries.id"), nullable=False),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("created_at", DateTime, nullable=False),
    # Journaled but not yet folded into the pooled account's cached balance
    # (services/ledger.py). Added by 0002_scale.
    Column("pending", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_postings_account", "account_id", "id"),
    Index("ix_postings_entry", "entry_id"),
    Index(
        "ix_postings_pending",
        "account_id",
        postgresql_where=text("pending"),
        sqlite_where=text("pending"),
    ),
)

# Frozen money is a set of holds, so the frozen balance is derivable from
# history just like the balance is.
holds = Table(
    "holds",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # active | released | captured
    Column("ref", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_holds_account", "account_id", "status"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("order_no", String(32), nullable=False, unique=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("merchant_order_no", String(64), nullable=False),
    Column("dialect", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("subject", String(256), nullable=False, default=""),
    Column("description", String(512), nullable=False, default=""),
    Column("status", String(24), nullable=False),
    Column("refunded_amount", BigInteger, nullable=False, default=0),
    Column("notify_url", String(512), nullable=False, default=""),
    Column("return_url", String(512), nullable=False, default=""),
    Column("attach", String(1024), nullable=False, default=""),
    Column("payer", String(64), nullable=False, default=""),
    Column("payer_account_id", String(32), nullable=True),
    Column("payee_account_id", String(32), nullable=True),
    Column("request_digest", String(64), nullable=False, default=""),
    Column("extra", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
    Column("expire_at", DateTime, nullable=True),
    Column("paid_at", DateTime, nullable=True),
    Column("closed_at", DateTime, nullable=True),
    UniqueConstraint("merchant_id", "merchant_order_no"),
    Index("ix_orders_merchant_created", "merchant_id", "id"),
    Index("ix_orders_due", "status", "expire_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("refund_no", String(32), nullable=False, unique=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("merchant_refund_no", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(256), nullable=False, default=""),
    Column("notify_url", String(512), nullable=False, default=""),
    Column("request_digest", String(64), nullable=False, default=""),
    Column("extra", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
    Column("completed_at", DateTime, nullable=True),
    # When a refund sent through a live channel is next asked about (None for
    # every other refund, and once it ends): services/channel_refunds.py.
    Column("next_check_at", DateTime, nullable=True),
    UniqueConstraint("merchant_id", "merchant_refund_no"),
    Index("ix_refunds_order", "order_id"),
    Index("ix_refunds_next_check", "next_check_at"),
)

withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("withdrawal_no", String(32), nullable=False, unique=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("from_account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("to_account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("hold_id", ID, ForeignKey("holds.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("user_ref", String(64), nullable=False, default=""),
    Column("remark", String(256), nullable=False, default=""),
    Column("reason", String(256), nullable=False, default=""),
    Column("notify_url", String(512), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("completed_at", DateTime, nullable=True),
    # Added by 0002_partner: whose notifier reports the withdrawal, and sandbox/review details.
    Column("dialect", String(16), nullable=False, default="", server_default=""),
    Column("extra", JSON, nullable=False, default=dict, server_default="{}"),
    Index("ix_withdrawals_status", "status", "id"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("wallet_token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
)

# Transactional outbox: the bytes to send are fixed when the state changes.
notifications = Table(
    "notifications",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("merchant_id", String(32), nullable=False),
    Column("dialect", String(16), nullable=False),
    Column("event", String(32), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("url", String(512), nullable=False),
    Column("headers", JSON, nullable=False, default=dict),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # PENDING | DELIVERED | EXHAUSTED
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=True),
    Column("lease_until", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("delivered_at", DateTime, nullable=True),
    Column("last_error", String(256), nullable=False, default=""),
    Index("ix_notifications_due", "status", "next_attempt_at"),
    Index("ix_notifications_merchant", "merchant_id", "id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("notification_id", ID, ForeignKey("notifications.id"), nullable=False),
    Column("attempt_no", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False, default=0),
    Column("response_excerpt", Text, nullable=False, default=""),
    Column("error", String(256), nullable=False, default=""),
    Column("success", Boolean, nullable=False, default=False),
    Index("ix_delivery_attempts_notification", "notification_id", "attempt_no"),
)

nonces = Table(
    "nonces",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_nonces_expires", "expires_at"),
)

# Small process-shared settings: the sandbox clock offset, the admin token
# hash, node-id allocation.
settings_kv = Table(
    "settings_kv",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- partner OAuth (0002_partner) -----------------------------------------------------------------

# A user's consent to one partner. The row outlives revocation so the openid
# stays the same when the user authorizes the partner again.
oauth_authorizations = Table(
    "oauth_authorizations",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("openid", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # active | revoked
    Column("bound_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("merchant_id", "user_id"),
    Index("ix_oauth_authorizations_user", "user_id"),
)

# Auth codes and session keys are stored as SHA-256 hashes: a database leak
# does not hand out usable credentials.
oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("authorization_id", ID, ForeignKey("oauth_authorizations.id"), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
)

oauth_sessions = Table(
    "oauth_sessions",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("authorization_id", ID, ForeignKey("oauth_authorizations.id"), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_oauth_sessions_authorization", "authorization_id"),
)

# Sign-ins to the sandbox wallet app (the cookie holds the token, the row its hash).
wallet_sessions = Table(
    "wallet_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_wallet_sessions_user", "user_id"),
)

# skillpay: one voice skill per merchant. The skill's RSA public key verifies
# its requests and replies; paymux calls its three URLs. `sandbox_refund` is
# how the sandbox channel settles this skill's refunds (SUCCESS, FAIL, HOLD).
skills = Table(
    "skills",
    metadata,
    Column("skill_id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),
    Column("create_order_url", String(512), nullable=False),
    Column("ship_url", String(512), nullable=False),
    Column("refund_notify_url", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("sandbox_refund", String(8), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # Added by 0003_skillpay_key_grace: the key a rotation replaced stays valid until then.
    Column("previous_public_key", Text, nullable=False, default="", server_default=""),
    Column("previous_valid_until", DateTime, nullable=True),
)

# Live channel credentials per merchant (WeChat Pay, Alipay). The whole
# configuration, private keys included, is sealed with the master key;
# `account` (mchid / app_id) is kept in clear for display and lookups.
channel_credentials = Table(
    "channel_credentials",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("account", String(64), nullable=False),
    Column("config_enc", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("merchant_id", "channel"),
)

# One row per channel attempt of an order (a QR code shown). The id is a
# snowflake: paymodule's transactionId / tradeId. `next_check_at` schedules the
# reconcile job's queries of attempts whose notice has not come.
payment_attempts = Table(
    "payment_attempts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("pay_method", String(16), nullable=False),
    Column("client_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # INIT | PENDING | SUCCEEDED | FAILED | CLOSED
    Column("code_url", String(512), nullable=False, default=""),
    Column("channel_trade_no", String(64), nullable=False, default=""),
    Column("error", String(256), nullable=False, default=""),
    Column("checks", Integer, nullable=False, default=0),
    Column("next_check_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_payment_attempts_order", "order_id", "id"),
    Index("ix_payment_attempts_due", "status", "next_check_at"),
)

# A channel said money moved where paymux's order says it must not (paid after
# close/expiry, twice, at another amount, for an unknown order). Never applied
# to the order: kept for an operator, with the automatic refund's progress.
channel_mismatches = Table(
    "channel_mismatches",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("merchant_id", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("order_status", String(24), nullable=False, default=""),
    Column("channel_trade_no", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("detail", String(512), nullable=False, default=""),
    Column("refund_no", String(64), nullable=False, default=""),
    Column("refund_status", String(16), nullable=False),  # NONE|PENDING|PROCESSING|SUCCEEDED|FAILED
    Column("channel_refund_no", String(64), nullable=False, default=""),
    Column("refund_error", String(256), nullable=False, default=""),
    Column("refund_attempts", Integer, nullable=False, default=0),
    Column("next_refund_at", DateTime, nullable=True),
    Column("resolved_at", DateTime, nullable=True),
    Column("resolution", String(256), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("channel", "channel_trade_no"),
    Index("ix_channel_mismatches_open", "resolved_at", "id"),
    Index("ix_channel_mismatches_refund", "refund_status", "next_refund_at"),
)

# Per-merchant request counts in one-second windows, for rate limits shared by
# several processes when no Redis is configured.
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("window", BigInteger, primary_key=True),
    Column("count", Integer, nullable=False),
)

# -- operator console (0002_console) --------------------------------------------------------------

# People who sign in to /console. The password is an argon2id hash; repeated
# failures lock the account until `locked_until` (platform clock).
operators = Table(
    "operators",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),  # admin | viewer
    Column("status", String(16), nullable=False),  # active | disabled
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime, nullable=True),
    Column("last_login_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
)

# Console sign-ins: the cookie holds the token, the row only its SHA-256, so a
# database leak hands out no usable session. Each session has its CSRF token.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", ID, ForeignKey("operators.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("ip", String(64), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_console_sessions_operator", "operator_id"),
)

# Who did what, written in the transaction of the action it records.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("source", String(16), nullable=False),  # console | admin_api | cli
    Column("actor", String(64), nullable=False),
    Column("ip", String(64), nullable=False, default=""),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False, default=""),
    Column("target_id", String(64), nullable=False, default=""),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("detail", String(512), nullable=False, default=""),
    Index("ix_audit_log_actor", "actor", "id"),
    Index("ix_audit_log_action", "action", "id"),
    Index("ix_audit_log_target", "target_type", "target_id", "id"),
)

# Indexes the console's keyset-paginated lists and per-order pages rely on
# (see docs/console.md): newest-first order lists, alone or by status or
# merchant; lookups by merchant order no across merchants; an order's ledger
# entries and notifications; an account's postings of one day (statements).
Index("ix_orders_created", orders.c.created_at, orders.c.id)
Index("ix_orders_status_created", orders.c.status, orders.c.created_at, orders.c.id)
Index("ix_orders_merchant_time", orders.c.merchant_id, orders.c.created_at, orders.c.id)
Index("ix_orders_merchant_order_no", orders.c.merchant_order_no)
Index("ix_journal_entries_order_no", journal_entries.c.order_no)
Index("ix_notifications_ref", notifications.c.ref)
Index("ix_postings_account_time", postings.c.account_id, postings.c.created_at)

# A merchant's orders in one status, newest first: what a dialect's list by status
# pages through, and what bounds counting its total (services/orders.py).
Index("ix_orders_merchant_status", orders.c.merchant_id, orders.c.status, orders.c.id)
