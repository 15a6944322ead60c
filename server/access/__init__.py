"""Who may do what: the principal and the one access policy (pure, no I/O)."""
