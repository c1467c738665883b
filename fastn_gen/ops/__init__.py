"""Operator commands: ``fastn-gen doctor`` and ``fastn-gen init``."""
