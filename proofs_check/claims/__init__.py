"""One module per paper; each registers its claims with :func:`proofs_check.claim`.

Discovered by :func:`proofs_check.load_claims` with pkgutil: add a module, no list to edit.
"""
