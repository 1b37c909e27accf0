"""Work on frames: rendering them, scoring them, repairing them, and storyboard.json."""
