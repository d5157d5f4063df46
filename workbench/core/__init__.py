"""The ground floor: errors, the home layout, config loading, audio I/O, the SQLite store, tracking and genre
presets. Imports nothing else of the project."""
