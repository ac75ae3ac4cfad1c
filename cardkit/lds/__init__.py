"""cardkit.lds"""
