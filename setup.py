"""Builds the C Avro decoder (:mod:`solas.surveys.compiled`); the rest of the package
is declared in pyproject.toml."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("solas.surveys._avro_reader", ["solas/surveys/_avro_reader.c"],
                             extra_compile_args=["-O2", "-Wall"])])
