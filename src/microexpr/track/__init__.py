"""Face tracking: the landmark model's asset, its adapter, and stable face ids across frames."""
