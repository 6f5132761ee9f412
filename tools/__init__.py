"""citebot's tools: the command line, eval, bench and reader training.

They use the engine (:mod:`retrieval`) like any other program; the engine never
imports them.
"""
