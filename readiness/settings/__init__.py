"""Typed env-file sections: shared base shapes, and one module per surface.

A surface registers its section model in ``readiness.config.SURFACE_MODELS``.
"""
