"""The domain: pure Python, no web, no SQL, no clock or randomness of its own."""
