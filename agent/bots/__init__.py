"""The chat bots: Slack and Discord, the files they send and receive, and the scenes people attach."""
