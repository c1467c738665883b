"""Package list for setuptools (metadata and dependencies are in pyproject.toml).

The Jinja templates live in ``templates/`` at the top of the repository, where the
generator reads them in a checkout; the wheel carries them as the package
``fastn_gen.templates`` so an installed ``fastn-gen build`` finds them too.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["fastn_gen", "fastn_gen.*"], exclude=["*.__pycache__"]),
        "fastn_gen.templates",
    ],
    package_dir={"fastn_gen.templates": "templates"},
)
