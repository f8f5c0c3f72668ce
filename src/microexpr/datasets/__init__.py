"""Readers for the research datasets' annotation files (the datasets themselves are licensed and never ship)."""
