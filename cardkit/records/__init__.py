"""cardkit.records"""
