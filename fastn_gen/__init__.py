"""fastn-gen: MCP gateway generator."""

__version__ = "0.1.0"
