"""Seed-era import path ``ray.tune.variant_generator``; re-exports
:mod:`tuneflows.search.variant_generator` (``grid_search``, ``generate_variants``,
``BasicVariantGenerator``).

Example:
    >>> from tuneflows.variant_generator import generate_variants, grid_search
    >>> [v for v, _ in generate_variants({"a": grid_search([1, 2])})]
    [{'a': 1}, {'a': 2}]
"""

from tuneflows.search.variant_generator import BasicVariantGenerator, generate_variants, grid_search

__all__ = ["BasicVariantGenerator", "generate_variants", "grid_search"]
