"""Articles in: files of every format read and cleaned, uploads saved, articles cut into passages."""
