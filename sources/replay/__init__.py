"""Replay: general-domain text mixed into the medical corpus so that continued pretraining does
not forget general language (MEDITRON's "experience replay", reference/meditron.md §3.2).

One module per input format; each yields documents (schema: source `replay/<name>`, subset
`replay`) and `BadRecord`s, and raises `InputError` for an input that cannot be read at all.
`spec.py` describes a source as params.yaml names it and dispatches to the right reader.
"""
