"""Where scenes come from: scene files (TOML) and Fountain screenplays."""
