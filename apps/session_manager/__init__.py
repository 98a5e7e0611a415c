"""Session Manager: the Dash app to browse, analyse, replay and record MQTT sessions.

Run with ``python -m apps.session_manager``; build with
:func:`apps.session_manager.app.create_app`. Importing the package does no I/O.

The pages are thin: every computation lives in a plain module that is tested without a
browser (``library``, ``store``, ``analysis``, ``timeline``, ``message_table``, ``inspector``,
``chains``, ``export``, ``replay_station``, ``record_station``).
"""
