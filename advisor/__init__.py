"""Loss Advisor."""
