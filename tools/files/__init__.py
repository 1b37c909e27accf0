"""Reading and writing files safely: size caps, atomic writes, folder locks, allowed roots and clean text."""
