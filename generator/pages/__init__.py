"""The site's pages, built from a loaded knowledge base: ``build`` (every page, through the
templates), ``browse`` (grouping), ``code`` (runnable references), ``html`` / ``text`` (safe
HTML pieces), ``charts`` (SVG) and ``reference`` (the schema and command-line pages)."""
