"""citebot's Discord layer: turns Discord events into engine calls and answers into messages."""
