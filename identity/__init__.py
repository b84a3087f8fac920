"""Members, their encrypted attributes, blind indexes, clients and tokens."""
