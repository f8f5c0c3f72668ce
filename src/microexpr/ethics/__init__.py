"""Responsible use: the use guard and notice text (guard.py) and the per-group bias audit (bias.py)."""
