"""The common data model: entity types, mapping transforms and entity search."""
