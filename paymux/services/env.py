"""What every service needs besides its transaction: clock, ids, settings, secrets, notifiers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paymux.config import Settings
from paymux.core.ids import Snowflake
from paymux.secretbox import SecretBox
from paymux.services.clock import Clock

if TYPE_CHECKING:
    from paymux.services.notifications import Notifier


@dataclass(slots=True)
class Env:
    settings: Settings
    clock: Clock
    ids: Snowflake
    box: SecretBox
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    # Called after a commit that wrote outbox rows, so delivery starts at once.
    wake_dispatcher: Callable[[], None] = lambda: None
    # Lists whose total reached the list window, and until when that is trusted
    # without counting again (services/paging.py).
    capped_totals: dict[tuple[Any, ...], float] = field(default_factory=dict)
    # Ids of lazily made accounts (world, fees, settlement) seen committed. Accounts
    # are never deleted, so each is inserted once per process, not on every payment.
    accounts_made: set[str] = field(default_factory=set)

    def new_no(self) -> str:
        """A platform number (order, refund, withdrawal): a snowflake id as decimal digits."""
        return str(self.ids.next_id(self.clock.now_ms()))
