"""Preference statistics: votes, Bradley–Terry, rater agreement and quality, power, sequential stopping,
decision rules and campaign analysis. Receives votes and clips; never reads a store."""
