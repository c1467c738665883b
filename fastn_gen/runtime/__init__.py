"""What generated connector modules import at run time: small, dependency-light types."""
