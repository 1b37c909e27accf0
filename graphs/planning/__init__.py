"""Planning a shot list: reading the scene, choosing shots, writing prompts, timing and dialogue."""
