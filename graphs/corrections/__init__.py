"""Chat corrections: reading a message as edit commands and applying them to the storyboard."""
