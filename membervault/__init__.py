"""membervault: the application package (settings, database, app factory, CLI)."""
