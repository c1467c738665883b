"""The multi-tenant MCP gateway: tenancy, credentials, upstream execution and serving."""
