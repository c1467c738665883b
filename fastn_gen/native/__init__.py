"""The gateway's native tools and resources: the management surface of each tenant."""
