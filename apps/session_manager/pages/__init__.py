"""The pages: each module has ``PATH``, ``NAME``, ``ORDER``, ``make_layout(ctx)`` and
``register_callbacks(app, ctx)``; ids are prefixed with the page's name."""
