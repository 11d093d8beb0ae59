"""Composition: stage functions, the executor, params.yaml and the `medcurate` command line.

The only package that knows the order of stages; nothing imports it.
"""
