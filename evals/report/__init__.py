"""Campaign reports: tables, plots and the rendered HTML/Markdown report."""
