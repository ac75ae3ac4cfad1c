"""cardkit.cli"""
