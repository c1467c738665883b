"""The read-only admin console at ``/admin`` and the admin key that protects it."""
