"""Users and authentication: the current user, user lookups, login, refresh and logout."""
