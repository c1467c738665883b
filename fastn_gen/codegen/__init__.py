"""Code generation: render the IR into generated/ through the Jinja templates."""
