"""advisor serve: the advisor as an HTTP job service."""
