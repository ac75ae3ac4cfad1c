"""cardkit.encoding"""
