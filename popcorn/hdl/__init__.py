"""Amaranth 0.5 components of the accelerators."""

from . import meminit as _meminit

_meminit.install()
