"""Connector spec front ends (native YAML, OpenAPI) and the IR they produce."""
