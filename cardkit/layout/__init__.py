"""cardkit.layout

The printed card: the layout as data (:mod:`.model`, read from the profile's ``[layout]``), fonts
(:mod:`.fonts`), fitting text in boxes (:mod:`.fit`), composing a card's drawing operations
(:mod:`.compose`) and rendering them as PDF (:mod:`.render_pdf`, ReportLab, vector text) or PNG
(:mod:`.render_png`, Pillow). Importing this package stays light: the renderers load ReportLab and
Pillow only when imported.
"""
