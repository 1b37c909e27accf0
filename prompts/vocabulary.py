"""Word lists the linter checks against and the planner steers clear of.

Each list is a regular expression over whole words, matched case-insensitively.
"""

from __future__ import annotations

import re


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


PRONOUNS = _words("he", "him", "his", "himself", "she", "her", "hers", "herself",
                  "they", "them", "their", "theirs", "themselves")
"""Personal pronouns: prompts name characters instead (rule 2)."""

PERSON_NOUNS = _words("man", "men", "woman", "women", "person", "people", "boy", "boys", "girl", "girls",
                      "guy", "guys", "lady", "ladies", "child", "children", "kid", "kids", "someone",
                      "somebody", "stranger", "strangers", "gentleman", "human", "humans")
"""Generic words for people: prompts use a cast token with its class word instead (rule 2)."""
ROLES = _words("courier", "messenger", "thief", "burglar", "stranger", "detective", "officer", "cop", "policeman",
               "policewoman", "guard", "soldier", "runner", "rider", "driver", "pilot", "nurse", "doctor", "waiter",
               "waitress", "figure", "hooded figure", "agent", "spy", "killer", "hunter", "sailor", "captain", "priest",
               "monk", "knight", "dancer", "singer", "student", "teacher", "farmer", "traveller", "traveler", "visitor",
               "intruder", "assassin", "boxer", "fighter", "witness", "suspect", "journalist", "reporter",
               "photographer", "boy", "girl", "man", "woman", "child", "kid", "old man", "old woman", "young man",
               "young woman")
"""Words a scene may introduce someone by before it names them ("A courier sprints ... Rin vaults ...")."""

LOWER_BODY = _words("legs?", "feet", "foot", "knees?", "thighs?", "ankles?", "shoes?", "boots?",
                    "toes?", "barefoot", "lower body", "full body", "whole body", "trousers", "skirt")
"""Words that pull medium and closer shots wider (rule 4)."""

UPPER_BODY = _words("shoulders?", "hands?", "arms?", "chest", "torso", "waist")
"""Anchors that keep medium close-ups and medium shots from collapsing to a close-up (rule 5)."""

FACE_AND_POSE = _words("faces?", "facial", "expressions?", "eyes?", "smil\\w*", "frown\\w*", "grin\\w*",
                       "tears?", "lips?", "mouth", "eyebrows?", "gaze", "glar\\w*", "scowl\\w*",
                       "blush\\w*", "wink\\w*", "pos(?:e|es|ed|ing)", "fingers?", "clench\\w*",
                       "gestur\\w*", "crossed arms", "arms crossed", "hands on hips")
"""Facial and pose detail that long and extreme long shots should not carry (rule 6)."""

EMOTIONS = _words("sad\\w*", "happ(?:y|ily|iness)", "angr\\w*", "anger", "afraid", "scared", "fear\\w*",
                  "terrif\\w*", "frighten\\w*", "nervous\\w*", "anxious\\w*", "anxiety", "worr\\w*",
                  "joy\\w*", "grie(?:f|ve|ving|ves)", "sorrow\\w*", "despair\\w*", "tearful\\w*",
                  "cry\\w*", "cries", "cried", "weep\\w*", "sob\\w*", "furious\\w*", "rage", "enraged",
                  "emotional\\w*", "heartbroken", "lonel\\w*", "desperat\\w*", "panic\\w*", "tender\\w*",
                  "shock\\w*", "surprised", "horrified", "excited\\w*", "delight\\w*", "laugh\\w*",
                  "smil\\w*", "grin\\w*", "frown\\w*", "relie(?:f|ved)", "guilt\\w*", "shame\\w*",
                  "bitter\\w*", "longing", "yearn\\w*", "hope(?:ful|fully|less)", "tense", "tension")
"""Emotional cues, which pull medium to long shots closer (rule 7)."""

POSITIONS = {"left": _words("left"), "right": _words("right"), "centre": _words("centre", "center", "middle")}
"""How a prompt may say where a character stands (rule 8)."""

MALE_CLASSES = frozenset({"man", "boy", "gentleman", "guy", "king", "prince", "father", "son", "husband",
                          "brother", "monk", "priest", "lord", "sir", "uncle", "grandfather", "knight",
                          "wizard", "actor", "waiter", "policeman", "fisherman", "cowboy"})
FEMALE_CLASSES = frozenset({"woman", "girl", "lady", "queen", "princess", "mother", "daughter", "wife",
                            "sister", "nun", "priestess", "aunt", "grandmother", "witch", "actress",
                            "waitress", "policewoman", "heroine"})


def gender_of(class_word: str) -> str:
    """Return "male", "female" or "neutral" for a class word such as "man" or "old woman"."""
    last = class_word.lower().split()[-1] if class_word.strip() else ""
    if last in MALE_CLASSES:
        return "male"
    if last in FEMALE_CLASSES:
        return "female"
    return "neutral"


OWN = {"male": "his", "female": "her", "neutral": "their"}
"""The possessive a character of each gender (gender_of) takes for their own things ("sweeps his flashlight")."""
