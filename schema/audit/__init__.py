"""The access log: who read member data, its filter, its hash-chain verification."""
