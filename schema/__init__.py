"""GraphQL only: types, queries, mutations, context, permissions (no SQL)."""
