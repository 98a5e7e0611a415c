"""OMF Dashboard: a Dash app that shows what the fischertechnik factory says on MQTT.

Run with ``python -m apps.omf_dashboard``; build with
:func:`apps.omf_dashboard.app.create_app`. Importing the package does no I/O.
"""
