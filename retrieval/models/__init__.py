"""The models: the sentence encoder that embeds passages and questions, and the reader."""
