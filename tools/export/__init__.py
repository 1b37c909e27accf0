"""The exports crews use: the sheet, its PDF, the shot list, the animatic and the timeline."""
