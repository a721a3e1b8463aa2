"""Use cases: one function per business action, each run by the store inside one transaction."""
