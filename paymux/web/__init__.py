"""Server-rendered pages: the hosted cashier (and later the wallet app and console)."""
