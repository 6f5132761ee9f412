"""Text the engine reads: sentences, words, time expressions, boilerplate."""
